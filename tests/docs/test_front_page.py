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


def test_the_readmes_diagram_shows_two_nodes_and_who_acts_on_them():
    readme = (ROOT / "README.md").read_text()
    diagram = re.search(r"^```\n(.*?)^```", readme, re.S | re.M).group(1)
    for part in ("(NO)", "(JP)", "officials", "auditor", "DPO", "courier", "envelopes", "receipts",
                 "audit log", "checkpoints", "operator"):
        assert part in diagram, part


def test_the_glossary_defines_the_treaty_and_protocol_terms():
    glossary = (ROOT / "docs" / "glossary.md").read_text()
    defined = {term.lower() for term in re.findall(r"^\| \*\*(.+?)\*\* \|", glossary, re.M)}
    for term in ("cmaa", "designated official", "envelope", "receipt", "checkpoint", "witness",
                 "crypto-shredding", "consent", "use restriction", "signed directory"):
        assert term in defined, term


def test_the_operator_guide_covers_what_an_operator_needs():
    guide = (ROOT / "docs" / "operator-guide.md").read_text()
    headings = set(re.findall(r"^## (.+)$", guide, re.M)) | set(re.findall(r"^\*\*(.+?)\.?\*\*", guide, re.M))
    for topic in ("Install", "A systemd unit", "TLS", "Where the data lives", "Backup and restore", "Upgrades",
                  "Containers", "Production checklist"):
        assert topic in headings, topic
    assert "[Service]" in guide and "ExecStart=" in guide  # the unit itself, not only its mention


def test_benchmark_figures_live_in_performance_md_not_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    assert "docs/performance.md" in readme
    assert not re.search(r"\b\d+(\.\d+)? ?(ms|req/s|requests/s)\b", readme)
    assert re.search(r"\b\d+(\.\d+)? ?(ms|req/s|/s)\b", (ROOT / "docs" / "performance.md").read_text())


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation but hyphens dropped, spaces to hyphens."""
    found = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *$", markdown, flags=re.M):
        found.add(re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-"))
    return found


def test_every_relative_link_in_the_documents_resolves_within_the_repository():
    """Every `[text](target)` of README.md and docs/*.md that is not a URL names a file of this repository,
    and its `#anchor` a heading there (an outside tester followed a link to docs/docs/...)."""
    broken = []
    for document in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = document.read_text(encoding="utf-8")
        text = re.sub(r"```.*?```", "", text, flags=re.S)  # links in code blocks are examples, not links
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue  # https:, mailto:
            path, _, anchor = target.partition("#")
            resolved = (document.parent / path).resolve() if path else document
            where = f"{document.relative_to(ROOT)} -> {target}"
            if ROOT.resolve() not in resolved.parents and resolved != ROOT.resolve():
                broken.append(f"{where}: outside the repository")
            elif not resolved.exists():
                broken.append(f"{where}: no such file")
            elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved.read_text(encoding="utf-8")):
                broken.append(f"{where}: no such heading")
    assert broken == []
