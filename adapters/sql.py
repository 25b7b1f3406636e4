"""SQL that several adapters share, below all of them: the node's own tables (outbox and inbox, Merkle log,
personal-data vault), their migrations, the outbox/inbox row inserts and SQLite's write lock. Imports nothing
of ``adapters/``."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Sequence


@contextmanager
def one_statement(datastore, postgres: bool):
    """A cursor for one statement on its own. On PostgreSQL the pool's connections are in autocommit
    mode, so the statement is its own transaction: one round trip to the server, where the library's
    ``transaction()`` wraps it in BEGIN and COMMIT (three, each with the server's and psycopg's work);
    an exchange made ~14 such trips on its way. On SQLite, a transaction as before (no round trips)."""
    if postgres:
        with datastore.get_connection() as connection, connection.cursor() as cursor:
            yield cursor
    else:
        with datastore.transaction(commit=True) as cursor:
            yield cursor


def take_write_lock(cursor) -> None:
    """SQLite: take the database's write lock now, at the start of a transaction that reads
    and then writes, waiting its turn (``SQLITE_LOCK_TIMEOUT``). Such a transaction would
    otherwise fail at once with "database is locked" when another process (the courier
    process, a CLI command) writes between its read and its write: SQLite cannot upgrade
    it, and does not wait. A write that changes nothing takes the lock."""
    cursor.execute("UPDATE cmaa_outbox SET attempts = attempts WHERE 1 = 0")


OUTBOX_COLUMNS = (
    "envelope_id", "case_id", "partner", "kind", "payload", "status", "attempts", "next_attempt_at",
    "lease_owner", "lease_until", "last_error", "receipt", "rejection", "sent_digests", "created_at",
    "delivered_at", "request_id",
)
INBOX_COLUMNS = ("envelope_id", "sender", "content_sha256", "envelope_sha256", "receipt", "received_at", "case_id")


def exchange_tables(prefix: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {prefix}cmaa_outbox ("
        "envelope_id TEXT PRIMARY KEY, case_id TEXT NOT NULL, partner TEXT NOT NULL, kind TEXT NOT NULL, "
        "payload TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_at BIGINT NOT NULL, "
        "lease_owner TEXT, lease_until BIGINT, last_error TEXT, receipt TEXT, rejection TEXT, "
        "sent_digests TEXT NOT NULL, created_at BIGINT NOT NULL, delivered_at BIGINT, request_id TEXT)",
        f"CREATE INDEX IF NOT EXISTS cmaa_outbox_due ON {prefix}cmaa_outbox (status, next_attempt_at)",
        f"CREATE INDEX IF NOT EXISTS cmaa_outbox_case ON {prefix}cmaa_outbox (case_id, status, created_at)",
        f"CREATE TABLE IF NOT EXISTS {prefix}cmaa_inbox ("
        "envelope_id TEXT PRIMARY KEY, sender TEXT NOT NULL, content_sha256 TEXT NOT NULL, "
        "envelope_sha256 TEXT NOT NULL, receipt TEXT NOT NULL, received_at BIGINT NOT NULL, case_id TEXT NOT NULL)",
        # The last refresh of each partner's signed directory (adapters/directory_refresh.py).
        f"CREATE TABLE IF NOT EXISTS {prefix}cmaa_directory_refresh (partner TEXT PRIMARY KEY, "
        "attempted_at TEXT NOT NULL, trigger TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT, issued_at TEXT, "
        "succeeded_at TEXT, refused_at TEXT, refused_detail TEXT)",
    ]


# Columns added after a table's first release: (table, column, type). Each store
# gains them at start-up, so an upgraded node opens an older store (docs/operations.md).
MIGRATIONS = (("cmaa_outbox", "request_id", "TEXT"),)


def migrate_sqlite(cursor) -> None:
    for table, column, kind in MIGRATIONS:
        cursor.execute(f"PRAGMA table_info({table})")
        if column not in {row[1] for row in cursor.fetchall()}:
            cursor.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def migrate_postgres(prefix: str) -> list[str]:
    return [f"ALTER TABLE {prefix}{table} ADD COLUMN IF NOT EXISTS {column} {kind}"
            for table, column, kind in MIGRATIONS]


def vault_tables(prefix: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {prefix}cmaa_pd_subjects (pseudonym TEXT PRIMARY KEY, subject_id TEXT NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS cmaa_pd_subjects_subject ON {prefix}cmaa_pd_subjects (subject_id)",
        f"CREATE TABLE IF NOT EXISTS {prefix}cmaa_pd_keys (key_id TEXT PRIMARY KEY, subject_id TEXT NOT NULL, "
        "case_id TEXT NOT NULL, retain_until TEXT NOT NULL, wrapped TEXT, created_at BIGINT NOT NULL, "
        "erased_at BIGINT, erased_rule TEXT)",
        # The key of (subject, case, retention day): every key of a day shares retain_until, so the
        # lookup needs all three columns (an index on the day alone made sealing O(keys)).
        f"CREATE INDEX IF NOT EXISTS cmaa_pd_keys_lookup ON {prefix}cmaa_pd_keys (subject_id, case_id, retain_until)",
        f"CREATE INDEX IF NOT EXISTS cmaa_pd_keys_case ON {prefix}cmaa_pd_keys (case_id)",
        # Live keys by retention day, for the sweep. Partial: a lookup of one key (which does not
        # say erased_at IS NULL) cannot be planned on it; PostgreSQL did, with stale statistics.
        f"CREATE INDEX IF NOT EXISTS cmaa_pd_keys_live ON {prefix}cmaa_pd_keys (retain_until) WHERE erased_at IS NULL",
        f"CREATE TABLE IF NOT EXISTS {prefix}cmaa_pd_restrictions (subject_id TEXT PRIMARY KEY, "
        "since BIGINT NOT NULL, by_official TEXT NOT NULL, reason TEXT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {prefix}cmaa_pd_activity (activity_id TEXT PRIMARY KEY, at BIGINT NOT NULL, "
        "official TEXT NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL, purpose TEXT NOT NULL, "
        "case_id TEXT, subject_id TEXT, request_id TEXT)",
        f"CREATE INDEX IF NOT EXISTS cmaa_pd_activity_subject ON {prefix}cmaa_pd_activity (subject_id, at)",
        f"CREATE INDEX IF NOT EXISTS cmaa_pd_activity_official ON {prefix}cmaa_pd_activity (official, at)",
    ]


def audit_tables(prefix: str, blob: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {prefix}cmaa_merkle_leaves (leaf_index BIGINT PRIMARY KEY, "
        "notification_id BIGINT NOT NULL UNIQUE, originator_id TEXT NOT NULL, originator_version BIGINT NOT NULL, "
        f"leaf_hash {blob} NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {prefix}cmaa_merkle_nodes (level INTEGER NOT NULL, idx BIGINT NOT NULL, "
        f"hash {blob} NOT NULL, PRIMARY KEY (level, idx))",
        f"CREATE TABLE IF NOT EXISTS {prefix}cmaa_checkpoints (tree_size BIGINT PRIMARY KEY, root {blob} NOT NULL, "
        "note TEXT NOT NULL, created_at BIGINT NOT NULL)",
        # Checkpoints of partners' logs this node witnessed, and our checkpoints partners cosigned.
        f"CREATE TABLE IF NOT EXISTS {prefix}cmaa_witnessed (partner TEXT NOT NULL, tree_size BIGINT NOT NULL, "
        f"root {blob} NOT NULL, note TEXT NOT NULL, PRIMARY KEY (partner, tree_size))",
        f"CREATE TABLE IF NOT EXISTS {prefix}cmaa_cosignatures (tree_size BIGINT NOT NULL, witness TEXT NOT NULL, "
        "note TEXT NOT NULL, PRIMARY KEY (tree_size, witness))",
    ]


def insert_rows(cursor, prefix: str, mark: str, outbox: Sequence[dict], inbox: dict | Sequence[dict] | None,
                 outcome: Sequence[tuple[str, tuple]] = ()) -> None:
    # An envelope's new state (delivered, rejected, sent again) and an Idempotency-Key's mark,
    # in the same transaction as the case event recording it.
    for sql, params in outcome or ():
        cursor.execute(sql.replace("{p}", prefix).replace("?", mark), params)
    for row in outbox:
        columns = ", ".join(OUTBOX_COLUMNS)
        marks = ", ".join([mark] * len(OUTBOX_COLUMNS))
        cursor.execute(f"INSERT INTO {prefix}cmaa_outbox ({columns}) VALUES ({marks})",
                       tuple(row[c] for c in OUTBOX_COLUMNS))
    for row in [inbox] if isinstance(inbox, dict) else inbox or ():  # one, or a batch's
        columns = ", ".join(INBOX_COLUMNS)
        marks = ", ".join([mark] * len(INBOX_COLUMNS))
        cursor.execute(f"INSERT INTO {prefix}cmaa_inbox ({columns}) VALUES ({marks})",
                       tuple(row[c] for c in INBOX_COLUMNS))


def now_ms() -> int:
    return int(time.time() * 1000)
