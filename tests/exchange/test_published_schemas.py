"""The published JSON Schemas (openapi/envelopes/) are the contract a partner implements:
generated from the wire models, valid draft 2020-12, and every document the nodes produce
and every JSON example in the documents conforms to them."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from service.exchange.published import all_schemas, render
from tests.exchange_helpers import bearer
from tests.factories import jp_no_request
from tests.published_schemas import REPORTS_ENV, SCHEMA_DIR, child_reports, violations
from tests.servers import cli_env, cmaa

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLE = re.compile(r"(?:<!-- schema: (?P<schema>[\w.-]+) -->\n)?```json\n(?P<body>.*?)```", re.S)


def test_the_published_files_are_generated_from_the_wire_models():
    """Regenerate with `python -m service.exchange.published openapi/envelopes`."""
    generated = all_schemas()
    on_disk = {p.name for p in SCHEMA_DIR.glob("*.schema.json")}
    assert on_disk == set(generated), "stale or missing files in openapi/envelopes/"
    for name, schema in generated.items():
        assert (SCHEMA_DIR / name).read_text(encoding="utf-8") == render(schema), f"{name} is out of date"


@pytest.mark.parametrize("name", sorted(all_schemas()))
def test_each_published_schema_is_a_draft_2020_12_schema(name):
    schema = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("document", ["envelope-format.md", "audit-format.md"])
def test_every_json_example_in_the_documents_follows_its_schema(document):
    text = (DOCS / document).read_text(encoding="utf-8")
    examples = list(EXAMPLE.finditer(text))
    assert examples, f"{document} has no JSON example"
    for example in examples:
        line = text[:example.start()].count("\n") + 1
        assert example["schema"], f"{document}:{line}: a JSON example without a `<!-- schema: … -->` line"
        assert violations(example["schema"], json.loads(example["body"])) == [], f"{document}:{line}"


def test_a_document_that_breaks_a_schema_is_caught():
    """The hook that checks the suite's documents can fail."""
    receipt = {"type": "cmaa-receipt", "envelope_id": "not-a-uuid", "envelope_sha256": "AB" * 32, "sender": "NO",
               "receiver": "JP", "received_at": "2026-11-22T10:00:00+00:00", "status": "accepted",
               "checkpoint": None, "cosigned_checkpoint": None, "extra": 1}
    problems = violations("receipt.schema.json", receipt)
    assert len(problems) == 3, problems  # the id, the upper-case digest, the unknown member


def test_a_date_time_that_is_not_one_is_caught():
    """The format checker is live: jsonschema passes any string as a "date-time" unless
    rfc3339-validator is installed (a test dependency in pyproject.toml)."""
    receipt = {"type": "cmaa-receipt", "envelope_id": "0b7e7f36-2c55-4a8a-9a52-6d1c7c6b3a10",
               "envelope_sha256": "ab" * 32, "sender": "NO", "receiver": "JP",
               "received_at": "2026-11-22T10:00:00+00:00", "status": "accepted", "checkpoint": None,
               "cosigned_checkpoint": None}
    assert violations("receipt.schema.json", receipt) == []
    for bad in ("22.11.2026 10:00", "2026-11-22T10:00:00", "2026-11-31T10:00:00Z", "2026-11-22"):
        assert violations("receipt.schema.json", {**receipt, "received_at": bad}) == [
            f"receipt.schema.json: received_at: {bad!r} is not a 'date-time'"]


def test_a_node_process_that_signs_a_document_breaking_a_schema_fails_the_test(tmp_path):
    """Node processes a test starts (`cmaa serve`, its courier child, `cmaa` commands) are checked
    too (tests/child_hooks/sitecustomize.py): with a copy of the schemas in which a directory must
    hold a member ours does not, the directory `cmaa keys export-directory` signs is reported."""
    schemas, reports = tmp_path / "schemas", tmp_path / "reports"
    shutil.copytree(SCHEMA_DIR, schemas)
    reports.mkdir()
    broken = json.loads((schemas / "directory.schema.json").read_text(encoding="utf-8"))
    broken["required"] = [*broken["required"], "no_such_member"]
    (schemas / "directory.schema.json").write_text(json.dumps(broken), encoding="utf-8")
    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'cmaa.db'}")
    assert cmaa(env, "init").returncode == 0
    broken_env = {**env, "PUBLISHED_SCHEMA_DIR": str(schemas), REPORTS_ENV: str(reports)}
    exported = cmaa(broken_env, "keys", "export-directory")
    assert exported.returncode == 0, exported.stderr
    reported = child_reports(reports, {})
    assert reported and all("'no_such_member' is a required property" in line for line in reported), reported
    assert "keys export-directory" in reported[0]
    again = cmaa({**env, REPORTS_ENV: str(reports)}, "keys", "export-directory")  # the published schemas: no report
    assert again.returncode == 0 and child_reports(reports, {}) == reported


def test_what_the_nodes_sign_and_serve_is_recorded_and_follows_the_schemas(nodes,
                                                                           signed_documents_follow_published_schemas):
    no, jp = nodes
    recorder = signed_documents_follow_published_schemas
    case_id = no.api.post("/cases", json=jp_no_request(), headers=no.official).json()["id"]
    assert no.deliver() == 1
    # A rejection: garbage at the inbox is refused at step 1 with a signed rejection.
    refused = jp.api.post("/exchange/inbox", content=b"{}", headers={"content-type": "application/jose+json"})
    assert refused.status_code == 400
    assert violations("inbox-problem.schema.json", refused.json()) == []
    no.node.designate_official(by="test", official_id="no-audit", name="Auditor", roles=["auditor"])
    auditor = bearer(no.node.directory.issue_credential(by="test", official_id="no-audit"))
    no.node.audit.seal_and_checkpoint()
    answers = {
        "checkpoint-answer.schema.json": no.api.get("/audit/checkpoint"),
        "consistency-proof-answer.schema.json": no.api.get("/audit/proofs/consistency",
                                                           params={"old_size": 1, "new_size": 2}),
        "inclusion-proof-answer.schema.json": no.api.get(f"/audit/cases/{case_id}/events/1/inclusion",
                                                         headers=auditor),
    }
    for name, response in answers.items():
        assert response.status_code == 200, response.text
        assert violations(name, response.json()) == [], name
    recorded = {name for name, _ in recorder.documents}
    assert {"directory.schema.json", "envelope-request.schema.json", "envelope-jwe.schema.json", "receipt.schema.json",
            "rejection.schema.json", "inbox-answer.schema.json"} <= recorded
    assert recorder.problems() == []


def test_the_inbox_steps_are_one_list_in_the_code_and_the_document():
    """docs/envelope-format.md §3.1 numbers the steps 1-15; the inbox runs step_1 … step_13 in that order
    (13-15 finish in apply.py), and every number has its HTTP status."""
    from service.exchange.inbox import VERIFICATION
    from service.exchange.rejection import EnvelopeRejected

    text = (DOCS / "envelope-format.md").read_text(encoding="utf-8")
    section = text[text.index("### 3.1"):text.index("### 3.2")]
    documented = [int(n) for n in re.findall(r"^\| (\d+) \|", section, re.M)]
    assert documented == list(range(1, 16))
    assert [int(f.__name__.split("_")[1]) for f in VERIFICATION] == list(range(1, 14))
    assert sorted(EnvelopeRejected.STATUS) == documented
