"""Tamper tests against a real store: each caught by offline verification of a bundle."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from joserfc.jwk import OKPKey

from adapters.audit_log import AuditLog
from adapters.bundle import export_bundle, verify_bundle
from adapters.store import EventStore
from domain.credentials import Credential
from tests.servers import cli_env, cmaa

ORIGIN = "cmaa-exchange/NO"


class Node:
    def __init__(self, url: str, key: Ed25519PrivateKey):
        self.store = EventStore(url)
        self.log = AuditLog(self.store, ORIGIN)
        self.key = key
        self.jwk = OKPKey.import_key(key).as_dict(private=False)

    def write(self, n: int) -> list:
        """``n`` streams of two events each."""
        at = datetime(2026, 1, 1, tzinfo=UTC)
        streams = []
        for _ in range(n):
            credential = Credential(token_id=uuid4().hex[:16], official_id="o", secret_digest="d", by="t", at=at)
            credential.revoke(reason="r", by="t", at=at)
            self.store.commit(credential)
            streams.append(credential)
        return streams

    def seal(self):
        while self.log.seal():
            pass
        return self.log.checkpoint(self.key)

    def bundle(self, case=None):
        return export_bundle(self.store, self.log, self.jwk, case)

    def sql(self, statement: str, params: tuple) -> None:
        table = "stored_events" if not self.log.postgres else f"{self.log.prefix}cmaa_events"
        with self.store.recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute(self.log.sql(statement.replace("EVENTS", table)), params)

    def oid(self, uuid):
        return uuid.hex if not self.log.postgres else uuid


@pytest.fixture
def node(store_url):
    node = Node(store_url, Ed25519PrivateKey.generate())
    yield node
    node.store.close()


def kinds(verdict) -> set[str]:
    return {p.kind for p in verdict.problems}


def test_an_untouched_store_verifies_in_full_and_per_case(node):
    streams = node.write(4)
    node.seal()
    node.write(2)
    node.seal()
    assert verify_bundle(node.bundle()).ok
    verdict = verify_bundle(node.bundle(streams[1].id))
    assert verdict.ok and verdict.events == 2


def test_an_edited_event_is_manipulation(node):
    streams = node.write(3)
    node.seal()
    node.sql("UPDATE EVENTS SET state = ? WHERE originator_id = ? AND originator_version = 2",
             (b'{"forged": true}', node.oid(streams[1].id)))
    full, case = verify_bundle(node.bundle()), verify_bundle(node.bundle(streams[1].id))
    assert not full.ok and "manipulation" in kinds(full)
    assert not case.ok and "manipulation" in kinds(case)


def test_a_deleted_event_is_a_gap(node):
    streams = node.write(3)
    node.seal()
    node.sql("DELETE FROM EVENTS WHERE originator_id = ? AND originator_version = 2", (node.oid(streams[0].id),))
    verdict = verify_bundle(node.bundle())
    assert not verdict.ok and "gap" in kinds(verdict)


def test_two_reordered_events_are_manipulation(node):
    node.write(2)
    node.seal()
    a, b = (node.store.recorder.select_notifications(i, 1)[0] for i in (2, 3))
    node.sql("UPDATE EVENTS SET state = ? WHERE originator_id = ? AND originator_version = ?",
             (b.state, node.oid(a.originator_id), a.originator_version))
    node.sql("UPDATE EVENTS SET state = ? WHERE originator_id = ? AND originator_version = ?",
             (a.state, node.oid(b.originator_id), b.originator_version))
    assert "manipulation" in kinds(verify_bundle(node.bundle()))


def test_a_truncated_tail_is_caught_by_a_checkpoint_held_elsewhere(node):
    node.write(4)
    held = node.seal()  # a partner keeps this one
    # Someone with database access removes the last stream and re-seals a shorter log.
    for n in node.store.recorder.select_notifications(7, 100):
        node.sql("DELETE FROM EVENTS WHERE originator_id = ? AND originator_version = ?",
                 (node.oid(n.originator_id), n.originator_version))
    for table in ("cmaa_merkle_leaves", "cmaa_merkle_nodes", "cmaa_checkpoints"):
        with node.store.recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute(f"DELETE FROM {node.log.prefix}{table}")
    node.seal()
    honest_looking = node.bundle()
    assert verify_bundle(honest_looking).ok  # on its own, the rewritten log is self-consistent...
    verdict = verify_bundle(honest_looking, (held.note,))
    assert not verdict.ok and "truncated" in " ".join(p.detail for p in verdict.problems)  # ...but not to a partner


def test_a_fork_rebuilt_with_the_same_key_is_caught_by_a_held_checkpoint(node, tmp_path):
    node.write(3)
    held = node.seal()
    fork = Node(f"sqlite:///{tmp_path / 'fork.db'}", node.key)  # same key, different history
    fork.write(5)
    fork.seal()
    verdict = verify_bundle(fork.bundle(), (held.note,))
    assert not verdict.ok and any("fork" in p.detail for p in verdict.problems)
    fork.store.close()


def test_a_bundle_signed_by_another_key_does_not_verify(node):
    node.write(1)
    node.seal()
    bundle = node.bundle()
    bundle["node_key"] = OKPKey.import_key(Ed25519PrivateKey.generate()).as_dict(private=False)
    assert "manipulation" in kinds(verify_bundle(bundle))


def test_cli_exports_and_verifies_offline(tmp_path):
    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'cmaa.db'}")
    assert cmaa(env, "init").returncode == 0
    assert cmaa(env, "officials", "add", "no-hansen", "--name", "Kari", "--role", "official").returncode == 0
    bundle = tmp_path / "bundle.json"
    exported = cmaa(env, "audit", "export", "--output", str(bundle))
    assert exported.returncode == 0, exported.stderr
    offline = {"PATH": env["PATH"]}  # no CMAA_* settings: no node, no database
    verified = cmaa(offline, "audit", "verify", str(bundle))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "VERIFIED" in verified.stdout
    data = json.loads(bundle.read_text())
    data["events"][0]["state"] = "e30="  # "{}"
    bundle.write_text(json.dumps(data))
    tampered = cmaa(offline, "audit", "verify", str(bundle))
    assert tampered.returncode == 1 and "manipulation" in tampered.stdout


def test_a_time_range_bundle_holds_only_events_stored_then_and_verifies(node):
    from datetime import timedelta

    node.write(2)
    middle = datetime.now(UTC)
    streams = node.write(2)
    node.seal()
    bundle = export_bundle(node.store, node.log, node.jwk, since=middle - timedelta(microseconds=1))
    assert {e["originator_id"] for e in bundle["events"]} == {str(s.id) for s in streams}
    assert verify_bundle(bundle).ok
    bundle["events"][0]["state"] = "e30="
    assert "manipulation" in kinds(verify_bundle(bundle))


def test_a_case_bundle_is_checked_against_checkpoints_held_elsewhere(node):
    """docs/auditing.md: `cmaa audit verify bundle.json --against checkpoint.txt` on a case bundle. The public
    checkpoint an auditor took before the export is checked with the bundle's proof for its size, and one of the
    bundle's own size by its root; a fork (another root, the same key) is caught; no notice for either (an
    outside tester saw "no consistency proof in a case bundle" and no check)."""
    from adapters.audit_log import sign_checkpoint

    [case, *_] = node.write(3)
    earlier = node.seal()  # what `curl $NODE/audit/checkpoint` gave the auditor
    node.write(2)
    latest = node.seal()
    bundle = node.bundle(case.id)
    assert "all" not in bundle["scope"]
    for held in (earlier, latest):
        verdict = verify_bundle(bundle, (held.note,))
        assert verdict.ok and verdict.problems == [], (held.size, verdict.problems)
    for size in (earlier.size, latest.size):
        fork = sign_checkpoint(ORIGIN, size, b"\x07" * 32, node.key)
        verdict = verify_bundle(bundle, (fork,))
        assert [(p.kind, "fork" in p.detail) for p in verdict.problems] == [("manipulation", True)], verdict.problems
