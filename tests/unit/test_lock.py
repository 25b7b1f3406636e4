"""requirements.lock, which the README's commands and CI install from, matches pyproject.toml:
every dependency pinned within its range, every pin with hashes (pip --require-hashes)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
REGENERATE = ("uv pip compile pyproject.toml --extra test --generate-hashes --universal --python-version 3.11 "
              "-o requirements.lock")


def locked() -> dict[str, tuple[Version, list[str]]]:
    """name -> (version, hashes), from the lock's `name==version \\ --hash=...` entries."""
    text = (ROOT / "requirements.lock").read_text()
    entries = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        head = re.match(r"^([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==([^\s;\\]+)", block)
        if head:
            entries[canonicalize_name(head.group(1))] = (Version(head.group(2)), re.findall(r"--hash=(\S+)", block))
    return entries


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in [*project["dependencies"], *project["optional-dependencies"]["test"]]]


def test_every_dependency_of_pyproject_is_pinned_in_the_lock_within_its_range():
    pins = locked()
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in requirements.lock; regenerate it: {REGENERATE}"
        version, _ = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {name}=={version}, outside pyproject's {requirement}; regenerate: {REGENERATE}")


def test_every_pin_carries_its_hashes():
    pins = locked()
    assert len(pins) > len(declared())  # the dependencies' dependencies too
    for name, (version, hashes) in pins.items():
        assert hashes and all(h.startswith("sha256:") for h in hashes), f"{name}=={version} has no sha256 hash"


def test_the_readme_installs_from_the_lock():
    readme = (ROOT / "README.md").read_text()
    assert "--require-hashes -r requirements.lock" in readme
