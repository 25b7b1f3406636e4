"""The Merkle log over a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from adapters.audit_log import AuditLog, leaf_data, verify_checkpoint
from adapters.merkle import MerkleTree, ProofError, leaf_hash, verify_consistency, verify_inclusion
from adapters.store import EventStore
from domain.credentials import Credential


def fill(store: EventStore, n: int) -> None:
    """Store ``n`` events, one small aggregate each."""
    for i in range(n):
        store.commit(Credential(token_id=f"t{i}-{uuid4().hex[:6]}", official_id="o", secret_digest="d", by="t",
                                at=datetime(2026, 1, 1, tzinfo=UTC)))


@pytest.fixture
def store(store_url):
    store = EventStore(store_url)
    yield store
    store.close()


def recomputed_root(store: EventStore) -> tuple[int, bytes]:
    """Independently: every stored event, in commit order, hashed from its stored bytes."""
    tree = MerkleTree()
    for n in store.recorder.select_notifications(1, 100_000):
        tree.append(leaf_hash(leaf_data(n.originator_id, n.originator_version, n.topic, n.state)))
    return tree.size, tree.root()


def test_every_event_becomes_one_leaf_in_commit_order_across_seals(store):
    log = AuditLog(store, "cmaa-exchange/NO")
    fill(store, 7)
    assert log.seal(batch=5) == 5
    assert log.seal() == 2
    fill(store, 3)
    assert log.seal() == 3 and log.seal() == 0
    assert log.root() == recomputed_root(store)


def test_a_restarted_sealer_resumes_without_gaps_or_double_leaves(store_url):
    first = EventStore(store_url)
    fill(first, 4)
    AuditLog(first, "o").seal()
    first.close()
    second = EventStore(store_url)
    fill(second, 4)
    log = AuditLog(second, "o")
    assert log.seal() == 4
    assert log.root() == recomputed_root(second)
    second.close()


def test_two_sealers_at_once_never_double_a_leaf(store_url):
    stores = [EventStore(store_url) for _ in range(2)]
    fill(stores[0], 40)
    logs = [AuditLog(s, "o") for s in stores]

    def run(log):
        while log.seal(batch=7):
            pass

    threads = [threading.Thread(target=run, args=(log,)) for log in logs]
    [t.start() for t in threads]
    [t.join() for t in threads]
    while logs[0].seal():
        pass
    assert logs[0].root() == recomputed_root(stores[0])
    assert logs[0].size() == 40
    for s in stores:
        s.close()


def test_inclusion_and_consistency_proofs_from_the_stored_log_verify(store):
    log = AuditLog(store, "o")
    fill(store, 11)
    log.seal()
    old_size, old_root = log.root(6)
    size, root = log.root()
    for n in list(store.recorder.select_notifications(1, 100)):
        index, leaf = log.leaf_of(n.originator_id, n.originator_version)
        verify_inclusion(leaf, index, size, log.inclusion_proof(index, size), root)
    verify_consistency(old_size, size, old_root, root, log.consistency_proof(old_size, size))


def test_a_signed_checkpoint_verifies_and_names_size_and_root(store):
    key = Ed25519PrivateKey.generate()
    log = AuditLog(store, "cmaa-exchange/NO")
    fill(store, 3)
    log.seal()
    checkpoint = log.checkpoint(key)
    assert verify_checkpoint(checkpoint.note, "cmaa-exchange/NO", key.public_key()) == (3, checkpoint.root)
    assert log.latest_checkpoint().note == checkpoint.note
    with pytest.raises(ValueError):
        verify_checkpoint(checkpoint.note.replace("\n3\n", "\n4\n"), "cmaa-exchange/NO", key.public_key())
    with pytest.raises(ValueError):
        verify_checkpoint(checkpoint.note, "cmaa-exchange/NO", Ed25519PrivateKey.generate().public_key())


def test_editing_a_stored_events_bytes_is_caught_by_recomputing_the_leaves(store, store_url):
    log = AuditLog(store, "o")
    fill(store, 5)
    log.seal()
    sealed = log.root()
    target = store.recorder.select_notifications(3, 1)[0]
    table = "stored_events" if store_url.startswith("sqlite") else f"{log.prefix}cmaa_events"
    with store.recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(log.sql(f"UPDATE {table} SET state = ? WHERE originator_id = ? AND originator_version = ?"),
                       (target.state.replace(b'"o"', b'"x"'),
                        target.originator_id.hex if store_url.startswith("sqlite") else target.originator_id,
                        target.originator_version))
    assert recomputed_root(store) != sealed


def test_a_consistency_answer_is_the_independent_trees_and_reads_its_nodes_in_a_fixed_number_of_statements(store):
    """What a partner fetches when our log grew (both roots and PROOF(old, new)), for every pair of sizes of a
    log sealed in uneven batches, equals an in-memory tree's answer; and it is read in three statements (the
    size, the leaves, the interior nodes) however many nodes the proof needs, not one statement per node."""
    from contextlib import contextmanager

    log = AuditLog(store, "o")
    for batch in (5, 1, 13, 2, 16):
        fill(store, batch)
        log.seal()
    tree = MerkleTree()
    for n in store.recorder.select_notifications(1, 100):
        tree.append(leaf_hash(leaf_data(n.originator_id, n.originator_version, n.topic, n.state)))
    assert tree.size == 37
    statements = []
    real = log._transaction

    class Counting:
        def __init__(self, cursor):
            self.cursor = cursor

        def execute(self, *args):
            statements.append(args[0])
            return self.cursor.execute(*args)

        def __getattr__(self, name):
            return getattr(self.cursor, name)

    @contextmanager
    def counted():
        with real() as cursor:
            yield Counting(cursor)

    log._transaction = counted
    for new in range(1, 38):
        for old in range(1, new + 1):
            statements.clear()
            assert log.consistency(old, new) == (tree.root(old), tree.root(new), tree.consistency_proof(old, new))
            assert len(statements) <= 3, (old, new, statements)
    with pytest.raises(ProofError):
        log.consistency(5, 38)
    with pytest.raises(ProofError):
        log.consistency(6, 5)
