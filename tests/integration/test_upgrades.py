"""Upgrades: a store written by an earlier release opens, replays and verifies under this one.

``tests/fixtures/store-v1/cmaa.db`` was written by the release before schema versioning
(commit 7d1b214): its ``CredentialIssued`` events are version 1 (no ``expires_at``) and
its outbox table has no ``request_id`` column.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path
from uuid import UUID

from domain.credentials import Credential
from tests.factories import client_for, make_node
from tests.servers import cli_env, cmaa

FIXTURE = Path(__file__).parent.parent / "fixtures" / "store-v1"


def _old_store(tmp_path) -> tuple[str, dict]:
    """The old store and its node key, as an operator's disk holds them before the upgrade."""
    shutil.copy(FIXTURE / "cmaa.db", tmp_path / "cmaa.db")
    shutil.copytree(FIXTURE / "keys", tmp_path / "data" / "keys")
    return f"sqlite:///{tmp_path / 'cmaa.db'}", json.loads((FIXTURE / "fixture.json").read_text())


def _stored_state(path: Path, topic_suffix: str) -> list[dict]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT state FROM stored_events WHERE topic LIKE ?", (f"%{topic_suffix}",)).fetchall()
    return [json.loads(row[0]) for row in rows]


def test_the_fixture_really_holds_version_1_events(tmp_path):
    states = _stored_state(FIXTURE / "cmaa.db", "CredentialIssued")
    assert states and all("expires_at" not in s and "class_version" not in s for s in states)


def test_an_earlier_store_replays_its_v1_events_upcast(tmp_path, clock):
    url, fixture = _old_store(tmp_path)
    node = make_node(url, tmp_path, clock, key_passphrase=fixture["key_passphrase"])
    try:
        with client_for(node) as api:
            # The official's v1 credential still authenticates; it never expires.
            headers = {"Authorization": f"Bearer {fixture['official_token']}"}
            case = api.get(f"/cases/{fixture['case_id']}", headers=headers)
            assert case.status_code == 200, case.text
            assert case.json()["content"]["targets"][0]["name"] == "Nordlys Import AS"
        token_id = fixture["official_token"].split(".")[1]
        from domain.credentials import credential_id

        credential = node.store.load(credential_id(token_id))
        assert isinstance(credential, Credential) and credential.expires_at is None
        # The old table gained its new column; the outbox works.
        assert node.store.exchange.pending() == []
        with sqlite3.connect(tmp_path / "cmaa.db") as conn:
            assert "request_id" in [row[1] for row in conn.execute("PRAGMA table_info(cmaa_outbox)")]
    finally:
        node.close()


def test_new_events_are_written_as_version_2_next_to_the_old_ones(tmp_path, clock):
    url, fixture = _old_store(tmp_path)
    node = make_node(url, tmp_path, clock, key_passphrase=fixture["key_passphrase"])
    try:
        token = node.directory.issue_credential(by="test", official_id="no-hansen", valid_for=timedelta(days=1))
        states = _stored_state(tmp_path / "cmaa.db", "CredentialIssued")
        assert [s.get("class_version", 1) for s in states].count(2) == 1
        with client_for(node) as api:
            assert api.get("/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 200
            clock.advance(days=1, seconds=1)
            expired = api.get("/cases", headers={"Authorization": f"Bearer {token}"})
            assert expired.status_code == 401
    finally:
        node.close()


def test_the_audit_chain_of_an_upgraded_store_still_verifies(tmp_path):
    url, fixture = _old_store(tmp_path)
    env = cli_env(tmp_path / "data", url, CMAA_KEY_PASSPHRASE=fixture["key_passphrase"])
    bundle = tmp_path / "bundle.json"
    exported = cmaa(env, "audit", "export", "--output", str(bundle))
    assert exported.returncode == 0, exported.stderr
    verified = cmaa({"PATH": env["PATH"]}, "audit", "verify", str(bundle))
    assert verified.returncode == 0 and "VERIFIED" in verified.stdout, verified.stdout + verified.stderr
    # ... including the leaves sealed by the old release over the v1 events' stored bytes.
    assert json.loads(bundle.read_text())["events"]
    assert UUID(json.loads((FIXTURE / "fixture.json").read_text())["case_id"])
