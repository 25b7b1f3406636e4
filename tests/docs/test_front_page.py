"""The README stays a front page; CI runs its test command verbatim; the API reference is generated."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_is_a_front_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    assert not re.search(r"\bissue \d+", readme)  # no internal issue numbers
    for link in re.findall(r"\]\((docs/[^)#]+|LICENSE|CHANGELOG.md|SECURITY.md)", readme):
        assert (ROOT / link).exists(), link


def test_ci_runs_the_readmes_test_command_verbatim():
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    test_command = next(b.strip().splitlines()[-1] for b in blocks if b.strip().endswith(".venv/bin/pytest"))
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_the_api_reference_is_the_generated_one_and_names_every_path():
    from service.http.api_guide import api_guide

    committed = (ROOT / "docs" / "api-reference.md").read_text()
    assert committed == api_guide(), "regenerate: cmaa openapi --guide docs/api-reference.md"
    for path, operations in json.loads((ROOT / "openapi" / "openapi.json").read_text())["paths"].items():
        for method in operations:
            assert f"`{method.upper()} {path}`" in committed, (method, path)
