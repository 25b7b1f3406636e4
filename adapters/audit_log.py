"""The audit log: every stored event a leaf of an RFC 9162 Merkle tree, in commit order.

A leaf commits to the event's identity and to the SHA-256 of its stored bytes
*exactly as persisted* (never a re-serialisation), so that erasing a data key
later (issue 6) changes no leaf:

    leaf data = "cmaa-leaf-v1\\n" || originator_id || "\\n" || version || "\\n" || topic || "\\n"
                || hex(SHA-256(stored state bytes))
    leaf hash = SHA-256(0x00 || leaf data)

Leaves have their own contiguous index (PostgreSQL notification ids can have
gaps). One sealer appends them: on PostgreSQL a transaction-scoped advisory
lock makes a second sealer (another replica) skip its turn; on SQLite writers
are serialised by the database. A leaf's notification id is unique, so no
event is ever sealed twice, and the sealer resumes after a restart from the
last sealed notification.

Checkpoints are C2SP signed notes (https://c2sp.org/signed-note,
https://c2sp.org/tlog-checkpoint) signed with the node's Ed25519 key.
"""

from __future__ import annotations

import base64
import hashlib
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from adapters.merkle import MerkleTree, ProofError, leaf_hash, nodes_read_by
from adapters.sql import one_statement, take_write_lock

LEAF_VERSION = b"cmaa-leaf-v1"
SEALER_LOCK = "cmaa:sealer"


def leaf_data(originator_id: Any, version: int, topic: str, state: bytes) -> bytes:
    """The stream id in its canonical text form (a UUID as 8-4-4-4-12 lowercase hex)."""
    return b"\n".join([LEAF_VERSION, str(originator_id).lower().encode(), str(version).encode(), topic.encode(),
                       hashlib.sha256(state).hexdigest().encode()])


class _CursorNodes:
    """Perfect-subtree hashes read through one transaction's cursor, writes buffered in it."""

    def __init__(self, log: "AuditLog", cursor, size: int):
        self.log, self.cursor, self._size = log, cursor, size
        self.pending: dict[tuple[int, int], bytes] = {}
        self.read: dict[tuple[int, int], bytes] = {}  # read ahead (:meth:`read_ahead`), never written back

    def read_ahead(self, wanted: set[tuple[int, int]]) -> None:
        """Read the given nodes in two statements (leaves, interior nodes) instead of one each: a proof
        needs O(log n) of them, each a round trip on PostgreSQL."""
        leaves = sorted(index for level, index in wanted if level == 0)
        interior = sorted((level, index) for level, index in wanted if level > 0)
        if leaves:
            self.cursor.execute(self.log.sql("SELECT leaf_index, leaf_hash FROM {p}cmaa_merkle_leaves WHERE leaf_index "
                                             f"IN ({', '.join('?' * len(leaves))})"), tuple(leaves))
            self.read.update(((0, self._at(row, 0, "leaf_index")), bytes(self._at(row, 1, "leaf_hash")))
                             for row in self.cursor.fetchall())
        if interior:
            self.cursor.execute(self.log.sql("SELECT level, idx, hash FROM {p}cmaa_merkle_nodes WHERE "
                                             + " OR ".join(["(level = ? AND idx = ?)"] * len(interior))),
                                tuple(value for pair in interior for value in pair))
            self.read.update(((self._at(row, 0, "level"), self._at(row, 1, "idx")), bytes(self._at(row, 2, "hash")))
                             for row in self.cursor.fetchall())

    def _at(self, row, position: int, name: str):
        return row[name] if self.log.postgres else row[position]

    def get(self, level: int, index: int) -> bytes:
        if (level, index) in self.pending:
            return self.pending[(level, index)]
        if (level, index) in self.read:
            return self.read[(level, index)]
        if level == 0:  # leaf hashes live in the leaves table only
            self.cursor.execute(self.log.sql("SELECT leaf_hash AS hash FROM {p}cmaa_merkle_leaves "
                                             "WHERE leaf_index = ?"), (index,))
        else:
            self.cursor.execute(self.log.sql("SELECT hash FROM {p}cmaa_merkle_nodes WHERE level = ? AND idx = ?"),
                                (level, index))
        row = self.cursor.fetchone()
        if row is None:
            raise ProofError(f"missing Merkle node ({level}, {index})")
        return bytes(row["hash"] if self.log.postgres else row[0])

    def put(self, level: int, index: int, digest: bytes) -> None:
        self.pending[(level, index)] = digest
        if level == 0:
            self._size = max(self._size, index + 1)

    def size(self) -> int:
        return self._size


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    note: str


class AuditLog:
    """The Merkle log of one event store."""

    def __init__(self, store, origin: str):
        self.store = store
        self.origin = origin
        recorder = store.recorder
        self.postgres = type(recorder).__name__ == "CmaaPostgresRecorder"
        self.prefix = recorder.table_prefix if self.postgres else ""

    def sql(self, statement: str) -> str:
        return statement.replace("{p}", self.prefix).replace("?", "%s" if self.postgres else "?")

    def _transaction(self):
        return self.store.recorder.datastore.transaction(commit=True)

    @contextmanager
    def _write_transaction(self):
        """A transaction that reads, then writes (on SQLite: holding the write lock from the start)."""
        with self._transaction() as cursor:
            if not self.postgres:
                take_write_lock(cursor)
            yield cursor

    # -- sealing -------------------------------------------------------------------------
    def seal(self, batch: int = 1000) -> int:
        """Append leaves for events stored since the last seal; return how many."""
        with self._transaction() as cursor:
            expected = self._position(cursor)
        notifications = self.store.recorder.select_notifications(expected[1] + 1, batch)
        if not notifications:
            return 0
        # Hashed before the write lock is taken: on SQLite every other writer waits while it is held.
        hashes = [leaf_hash(leaf_data(n.originator_id, n.originator_version, n.topic, n.state))
                  for n in notifications]
        with self._write_transaction() as cursor:
            if self.postgres:
                cursor.execute("SELECT pg_try_advisory_xact_lock(hashtext(%s)) AS locked", (SEALER_LOCK,))
                if not cursor.fetchone()["locked"]:
                    return 0  # another replica is sealing
            if self._position(cursor) != expected:
                return 0  # sealed meanwhile by another sealer; the next pass continues from there
            nodes = _CursorNodes(self, cursor, expected[0])
            tree = MerkleTree(nodes)
            leaves = []
            for notification, leaf in zip(notifications, hashes):
                leaves.append((tree.append(leaf), notification.id, str(notification.originator_id),
                               notification.originator_version, leaf))
            cursor.executemany(self.sql("INSERT INTO {p}cmaa_merkle_leaves (leaf_index, notification_id, "
                                        "originator_id, originator_version, leaf_hash) VALUES (?, ?, ?, ?, ?)"), leaves)
            interior = [(level, index, digest) for (level, index), digest in nodes.pending.items() if level > 0]
            if interior:
                cursor.executemany(self.sql("INSERT INTO {p}cmaa_merkle_nodes (level, idx, hash) VALUES (?, ?, ?)"),
                                   interior)
            return len(notifications)

    def _position(self, cursor) -> tuple[int, int]:
        # Both maxima come from indexes (COUNT(*) would scan the table).
        # (Two sub-selects: SQLite answers a lone MAX() from the index, two in one SELECT by a scan.)
        cursor.execute(self.sql("SELECT COALESCE((SELECT MAX(leaf_index) FROM {p}cmaa_merkle_leaves) + 1, 0) AS n, "
                                "COALESCE((SELECT MAX(notification_id) FROM {p}cmaa_merkle_leaves), 0) AS last"))
        row = cursor.fetchone()
        return (row["n"], row["last"]) if self.postgres else (row[0], row[1])

    def size(self) -> int:
        with self._transaction() as cursor:
            return self._position(cursor)[0]

    def _tree(self, cursor) -> MerkleTree:
        return MerkleTree(_CursorNodes(self, cursor, self._position(cursor)[0]))

    # -- reading ---------------------------------------------------------------------------
    def root(self, size: int | None = None) -> tuple[int, bytes]:
        with self._transaction() as cursor:
            tree = self._tree(cursor)
            size = tree.size if size is None else size
            return size, tree.root(size)

    def leaf_of(self, originator_id: Any, version: int) -> tuple[int, bytes] | None:
        with self._transaction() as cursor:
            cursor.execute(self.sql("SELECT leaf_index, leaf_hash FROM {p}cmaa_merkle_leaves "
                                    "WHERE originator_id = ? AND originator_version = ?"),
                           (str(originator_id), version))
            row = cursor.fetchone()
        if row is None:
            return None
        return (row["leaf_index"], bytes(row["leaf_hash"])) if self.postgres else (row[0], bytes(row[1]))

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        with self._transaction() as cursor:
            return self._tree(cursor).inclusion_proof(index, size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        with self._transaction() as cursor:
            return self._tree(cursor).consistency_proof(old_size, new_size)

    def consistency(self, old_size: int, new_size: int) -> tuple[bytes, bytes, list[bytes]]:
        """Both roots and PROOF(old, new), read in one transaction through one tree: the partial subtrees at
        the new tree's right edge are computed once for its root and its proof (what a partner fetches when
        our log grew: on the path of its inbox, about once a second under load)."""
        def compute(tree: MerkleTree) -> tuple[bytes, bytes, list[bytes]]:
            tree._check_size(new_size)
            return tree.root(old_size), tree.root(new_size), tree.consistency_proof(old_size, new_size)

        with self._transaction() as cursor:
            tree = self._tree(cursor)
            tree.nodes.read_ahead(nodes_read_by(compute, tree.size))
            return compute(tree)

    # -- checkpoints -------------------------------------------------------------------------
    def checkpoint(self, key: Ed25519PrivateKey) -> Checkpoint:
        """Sign and store a checkpoint of the log as it is now."""
        size, root = self.root()
        note = sign_checkpoint(self.origin, size, root, key)
        with self._write_transaction() as cursor:
            cursor.execute(self.sql("SELECT tree_size FROM {p}cmaa_checkpoints WHERE tree_size = ?"), (size,))
            if cursor.fetchone() is None:
                cursor.execute(self.sql("INSERT INTO {p}cmaa_checkpoints (tree_size, root, note, created_at) "
                                        "VALUES (?, ?, ?, ?)"), (size, root, note, int(time.time() * 1000)))
        return Checkpoint(self.origin, size, root, note)

    def latest_checkpoint(self) -> Checkpoint | None:
        with one_statement(self.store.recorder.datastore, self.postgres) as cursor:  # in every seal and receipt
            cursor.execute(self.sql("SELECT tree_size, root, note FROM {p}cmaa_checkpoints "
                                    "ORDER BY tree_size DESC LIMIT 1"))
            row = cursor.fetchone()
        if row is None:
            return None
        size, root, note = (row["tree_size"], row["root"], row["note"]) if self.postgres else row
        return Checkpoint(self.origin, size, bytes(root), note)


    def growth(self, limit: int = 500) -> list[tuple[int, int]]:
        """(created_at ms, tree size) of the latest ``limit`` signed checkpoints, oldest first."""
        with self._transaction() as cursor:
            cursor.execute(self.sql("SELECT created_at, tree_size FROM {p}cmaa_checkpoints "
                                    f"ORDER BY tree_size DESC LIMIT {int(limit)}"))
            rows = cursor.fetchall()
        pairs = [(r["created_at"], r["tree_size"]) if self.postgres else (r[0], r[1]) for r in rows]
        return [(int(at), int(size)) for at, size in reversed(pairs)]

    def status(self) -> dict:
        """Log size, events not yet sealed, and when the latest (and latest cosigned) checkpoint was made."""
        last_event = self.store.recorder.max_notification_id() or 0
        with self._transaction() as cursor:
            size, last_sealed = self._position(cursor)
            cursor.execute(self.sql("SELECT MAX(created_at) AS at FROM {p}cmaa_checkpoints"))
            row = cursor.fetchone()
            checkpoint_at = row["at"] if self.postgres else row[0]
            cursor.execute(self.sql("SELECT c.created_at AS at FROM {p}cmaa_checkpoints c JOIN {p}cmaa_cosignatures w "
                                    "ON w.tree_size = c.tree_size ORDER BY c.tree_size DESC LIMIT 1"))
            row = cursor.fetchone()
            witnessed_at = (row["at"] if self.postgres else row[0]) if row else None
        return {"log_size": size, "unsealed_events": max(0, last_event - last_sealed),
                "checkpoint_at": checkpoint_at / 1000 if checkpoint_at is not None else None,
                "witnessed_at": witnessed_at / 1000 if witnessed_at is not None else None}

    # -- witnessing ----------------------------------------------------------------------------
    def held_from(self, partner: str) -> tuple[int, bytes, str] | None:
        with self._transaction() as cursor:
            cursor.execute(self.sql("SELECT tree_size, root, note FROM {p}cmaa_witnessed WHERE partner = ? "
                                    "ORDER BY tree_size DESC LIMIT 1"), (partner,))
            row = cursor.fetchone()
        if row is None:
            return None
        size, root, note = (row["tree_size"], row["root"], row["note"]) if self.postgres else row
        return size, bytes(root), note

    # Held and kept once: ON CONFLICT, not a look-up first — on PostgreSQL two couriers' threads (or
    # replicas) that both looked and found nothing both inserted, and the second's IntegrityError
    # failed its whole delivery pass (the pass's envelopes were sent again).
    def hold(self, partner: str, size: int, root: bytes, note: str) -> None:
        with self._write_transaction() as cursor:
            cursor.execute(self.sql("INSERT INTO {p}cmaa_witnessed (partner, tree_size, root, note) "
                                    "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"), (partner, size, root, note))

    def forget(self, partner: str) -> None:
        with self._write_transaction() as cursor:
            cursor.execute(self.sql("DELETE FROM {p}cmaa_witnessed WHERE partner = ?"), (partner,))

    def keep_cosignature(self, size: int, witness: str, note: str) -> None:
        with self._write_transaction() as cursor:
            cursor.execute(self.sql("INSERT INTO {p}cmaa_cosignatures (tree_size, witness, note) "
                                    "VALUES (?, ?, ?) ON CONFLICT DO NOTHING"), (size, witness, note))

    def cosignatures(self) -> list[dict]:
        with self._transaction() as cursor:
            cursor.execute(self.sql("SELECT tree_size, witness, note FROM {p}cmaa_cosignatures ORDER BY tree_size"))
            rows = cursor.fetchall()
        return [dict(r) if self.postgres else {"tree_size": r[0], "witness": r[1], "note": r[2]} for r in rows]


# -- C2SP signed notes ------------------------------------------------------------------------
def note_key_id(name: str, public: Ed25519PublicKey) -> bytes:
    """C2SP signed-note key ID for Ed25519: SHA-256(name || 0x0A || 0x01 || key)[:4]."""
    raw = public.public_bytes_raw()
    return hashlib.sha256(name.encode() + b"\n" + b"\x01" + raw).digest()[:4]


def sign_checkpoint(origin: str, size: int, root: bytes, key: Ed25519PrivateKey) -> str:
    body = f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"
    signature = key.sign(body.encode())
    stamp = base64.b64encode(note_key_id(origin, key.public_key()) + signature).decode()
    return f"{body}\n\u2014 {origin} {stamp}\n"


def verify_checkpoint(note: str, origin: str, public: Ed25519PublicKey) -> tuple[int, bytes]:
    """Verify a signed checkpoint note by the log ``origin``'s own key; return ``(size, root)``.
    (Witnesses' cosignatures: ``adapters/cosignature.py``.) Raises ``ValueError``."""
    body, separator, signatures = note.partition("\n\n")
    if not separator:
        raise ValueError("not a signed note")
    body += "\n"
    lines = body.split("\n")
    if len(lines) < 4 or lines[0] != origin:
        raise ValueError(f"checkpoint origin is not {origin!r}")
    size, root = int(lines[1]), base64.b64decode(lines[2], validate=True)
    wanted = note_key_id(origin, public)
    for line in signatures.splitlines():
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != "\u2014" or parts[1] != origin:
            continue
        blob = base64.b64decode(parts[2], validate=True)
        if blob[:4] != wanted:
            continue
        try:
            public.verify(blob[4:], body.encode())
        except Exception:
            raise ValueError("checkpoint signature does not verify") from None
        return size, root
    raise ValueError("no signature by the expected key")
