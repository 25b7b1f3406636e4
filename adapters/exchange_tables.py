"""The outbox and inbox, in the event store's own database and transactions.

The node's recorders are the eventsourcing library's native ones, extended so
that ``EventStore.commit(case, outbox=[...], inbox=...)`` writes the case's new
events *and* the outbox/inbox rows in one transaction: an accepted message is
never stored without its envelope queued, and an applied envelope is never
applied twice (the inbox row's primary key is the envelope id).

Couriers claim due outbox rows with a lease; on PostgreSQL the claim uses
``FOR UPDATE SKIP LOCKED`` so that several replicas never deliver the same
envelope at once.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Sequence

from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
import psycopg
from eventsourcing.persistence import IntegrityError, ProgrammingError
from psycopg.sql import SQL

from adapters.audit_log import tables as audit_tables
from adapters.vault import tables as vault_tables

OUTBOX_COLUMNS = (
    "envelope_id", "case_id", "partner", "kind", "payload", "status", "attempts", "next_attempt_at",
    "lease_owner", "lease_until", "last_error", "receipt", "rejection", "sent_digests", "created_at",
    "delivered_at", "request_id",
)
INBOX_COLUMNS = ("envelope_id", "sender", "content_sha256", "envelope_sha256", "receipt", "received_at", "case_id")


def _create_statements(prefix: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {prefix}cmaa_outbox ("
        "envelope_id TEXT PRIMARY KEY, case_id TEXT NOT NULL, partner TEXT NOT NULL, kind TEXT NOT NULL, "
        "payload TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL, next_attempt_at BIGINT NOT NULL, "
        "lease_owner TEXT, lease_until BIGINT, last_error TEXT, receipt TEXT, rejection TEXT, "
        "sent_digests TEXT NOT NULL, created_at BIGINT NOT NULL, delivered_at BIGINT, request_id TEXT)",
        f"CREATE INDEX IF NOT EXISTS cmaa_outbox_due ON {prefix}cmaa_outbox (status, next_attempt_at)",
        f"CREATE TABLE IF NOT EXISTS {prefix}cmaa_inbox ("
        "envelope_id TEXT PRIMARY KEY, sender TEXT NOT NULL, content_sha256 TEXT NOT NULL, "
        "envelope_sha256 TEXT NOT NULL, receipt TEXT NOT NULL, received_at BIGINT NOT NULL, case_id TEXT NOT NULL)",
    ]


# Columns added after a table's first release: (table, column, type). Each store
# gains them at start-up, so an upgraded node opens an older store (docs/operations.md).
MIGRATIONS = (("cmaa_outbox", "request_id", "TEXT"),)


def _migrate_sqlite(cursor) -> None:
    for table, column, kind in MIGRATIONS:
        cursor.execute(f"PRAGMA table_info({table})")
        if column not in {row[1] for row in cursor.fetchall()}:
            cursor.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")


def _migrate_postgres(prefix: str) -> list[str]:
    return [f"ALTER TABLE {prefix}{table} ADD COLUMN IF NOT EXISTS {column} {kind}"
            for table, column, kind in MIGRATIONS]


def outbox_row(*, envelope_id: str, case_id: str, partner: str, kind: str, payload: dict[str, Any],
               request_id: str | None = None) -> dict:
    """``request_id`` is the API call that caused the envelope, so the logs of its
    delivery and receipt carry the same id."""
    now = _now_ms()
    return {"envelope_id": envelope_id, "case_id": case_id, "partner": partner, "kind": kind,
            "payload": json.dumps(payload, sort_keys=True), "status": "pending", "attempts": 0,
            "next_attempt_at": now, "lease_owner": None, "lease_until": None, "last_error": None,
            "receipt": None, "rejection": None, "sent_digests": "[]", "created_at": now, "delivered_at": None,
            "request_id": request_id}


def outcome_update(envelope_id: str, *, receipt: str | None = None, rejection: dict | None = None) -> tuple[str, tuple]:
    """The statement that records an outbox envelope's final state: delivered with its receipt,
    or rejected (``{p}`` for the table prefix, ``?`` for parameters)."""
    if receipt is not None:
        return ("UPDATE {p}cmaa_outbox SET status = 'delivered', receipt = ?, delivered_at = ?, "
                "lease_owner = NULL, lease_until = NULL WHERE envelope_id = ?", (receipt, _now_ms(), envelope_id))
    return ("UPDATE {p}cmaa_outbox SET status = 'rejected', rejection = ?, lease_owner = NULL, "
            "lease_until = NULL WHERE envelope_id = ?", (json.dumps(rejection), envelope_id))


def _insert_rows(cursor, prefix: str, mark: str, outbox: Sequence[dict], inbox: dict | None,
                 outcome: tuple[str, tuple] | None = None) -> None:
    if outcome:  # the envelope's final state, in the same transaction as the case event recording it
        sql, params = outcome
        cursor.execute(sql.replace("{p}", prefix).replace("?", mark), params)
    for row in outbox:
        columns = ", ".join(OUTBOX_COLUMNS)
        marks = ", ".join([mark] * len(OUTBOX_COLUMNS))
        cursor.execute(f"INSERT INTO {prefix}cmaa_outbox ({columns}) VALUES ({marks})",
                       tuple(row[c] for c in OUTBOX_COLUMNS))
    if inbox:
        columns = ", ".join(INBOX_COLUMNS)
        marks = ", ".join([mark] * len(INBOX_COLUMNS))
        cursor.execute(f"INSERT INTO {prefix}cmaa_inbox ({columns}) VALUES ({marks})",
                       tuple(inbox[c] for c in INBOX_COLUMNS))


class CmaaSQLiteRecorder(SQLiteApplicationRecorder):
    def construct_create_table_statements(self) -> list[str]:
        return (super().construct_create_table_statements() + _create_statements("") + audit_tables("", "BLOB")
                + vault_tables(""))

    def _create_table(self, c) -> None:
        super()._create_table(c)
        _migrate_sqlite(c)

    def _insert_events(self, c, stored_events, **kwargs: Any):
        ids = super()._insert_events(c, stored_events, **kwargs)
        _insert_rows(c, "", "?", kwargs.get("outbox", ()), kwargs.get("inbox"), kwargs.get("outcome"))
        return ids


class CmaaPostgresRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore, **kwargs: Any):
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.extend(SQL(s) for s in _create_statements(self.table_prefix))
        self.sql_create_statements.extend(SQL(s) for s in audit_tables(self.table_prefix, "BYTEA"))
        self.sql_create_statements.extend(SQL(s) for s in vault_tables(self.table_prefix))
        self.sql_create_statements.extend(SQL(s) for s in _migrate_postgres(self.table_prefix))

    @property
    def table_prefix(self) -> str:
        schema = self.datastore.schema
        return f'"{schema}".' if schema else ""

    def _schema_ready(self) -> bool:
        """Every table, index and added column this recorder creates is there already.

        Checked from the catalog, which takes no lock on the tables: a CLI command or a
        replica starting beside a node under load then runs no DDL at all. (``CREATE INDEX
        IF NOT EXISTS`` locks its table even when the index exists; a node's transaction
        holding the outbox and asking for the events table, against one creating tables in
        the opposite order, was a deadlock.)"""
        schema = self.datastore.schema or "public"
        statements = [self.events_table_name] + [
            found.group(1) for text in (_create_statements(""), audit_tables("", "BYTEA"), vault_tables(""))
            for statement in text if (found := re.match(r"CREATE (?:UNIQUE )?(?:TABLE|INDEX) IF NOT EXISTS (\S+)",
                                                         statement))]
        names = [f'"{schema}".{name.split(".")[-1]}' for name in statements]
        try:
            with self.datastore.transaction(commit=False) as curs:
                curs.execute("SELECT bool_and(to_regclass(name) IS NOT NULL) AS ready FROM unnest(%s::text[]) AS name",
                             (names,))
                if not curs.fetchone()["ready"]:
                    return False
                for table, column, _ in MIGRATIONS:
                    curs.execute("SELECT 1 FROM information_schema.columns WHERE table_schema = %s "
                                 "AND table_name = %s AND column_name = %s", (schema, table, column))
                    if curs.fetchone() is None:
                        return False
        except (ProgrammingError, psycopg.Error):
            return False
        return True

    def create_table(self) -> None:
        if self._schema_ready():
            return
        # The library creates its composite type in a transaction of its own and tolerates only
        # "already exists"; replicas starting together can instead collide in the catalog
        # (UniqueViolation on pg_type, or "relation ... already exists"). The loser tries again
        # and then finds the type there.
        for attempt in range(3):
            try:
                return super().create_table()
            except (IntegrityError, ProgrammingError, psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable):
                if attempt == 2:
                    raise

    def _create_table(self, curs) -> None:
        # Replicas starting together would race in the catalog on CREATE ... IF NOT
        # EXISTS ("duplicate key ... pg_type"); one transaction-scoped lock serialises them.
        curs.execute("SELECT pg_advisory_xact_lock(hashtext('cmaa:create-tables'))")
        super()._create_table(curs)

    def _insert_events(self, curs, stored_events, **kwargs: Any) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        _insert_rows(curs, self.table_prefix, "%s", kwargs.get("outbox", ()), kwargs.get("inbox"),
                     kwargs.get("outcome"))


def _now_ms() -> int:
    return int(time.time() * 1000)


class ExchangeTables:
    """Queries on the outbox and inbox, through the store's own datastore."""

    def __init__(self, recorder):
        self.recorder = recorder
        self.postgres = isinstance(recorder, CmaaPostgresRecorder)
        self.prefix = recorder.table_prefix if self.postgres else ""
        self.mark = "%s" if self.postgres else "?"

    def _run(self, sql: str, params: tuple = (), *, fetch: bool = False) -> list[dict]:
        sql = sql.replace("{p}", self.prefix).replace("?", self.mark)
        with self.recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute(sql, params)
            if not fetch:
                return []
            rows = cursor.fetchall()
        return [dict(row) if self.postgres else dict(zip(self._columns_of(sql), row)) for row in rows]

    @staticmethod
    def _columns_of(sql: str) -> list[str]:
        select = sql.split("SELECT", 1)[1].split("FROM", 1)[0]
        return [c.split(" AS ")[-1].strip().split(".")[-1] for c in select.split(",")]

    # -- outbox ---------------------------------------------------------------------
    def claim_due(self, owner: str, limit: int, lease_ms: int = 30_000) -> list[dict]:
        now = _now_ms()
        lock = "FOR UPDATE SKIP LOCKED" if self.postgres else ""
        self._run(
            "UPDATE {p}cmaa_outbox SET lease_owner = ?, lease_until = ? WHERE envelope_id IN ("
            " SELECT envelope_id FROM {p}cmaa_outbox WHERE status = 'pending' AND next_attempt_at <= ?"
            " AND (lease_until IS NULL OR lease_until < ?) ORDER BY created_at, envelope_id LIMIT ? " + lock + ")",
            (owner, now + lease_ms, now, now, limit),
        )
        return self._select("WHERE lease_owner = ? AND lease_until > ? AND status = 'pending' "
                            "ORDER BY created_at, envelope_id", (owner, now))

    def _select(self, where: str, params: tuple) -> list[dict]:
        columns = ", ".join(OUTBOX_COLUMNS)
        return self._run(f"SELECT {columns} FROM {{p}}cmaa_outbox {where}", params, fetch=True)

    def get(self, envelope_id: str) -> dict | None:
        rows = self._select("WHERE envelope_id = ?", (envelope_id,))
        return rows[0] if rows else None

    def for_case(self, case_id: str) -> list[dict]:
        return self._select("WHERE case_id = ? ORDER BY created_at, envelope_id", (case_id,))

    def pending(self) -> list[dict]:
        return self._select("WHERE status = 'pending' ORDER BY created_at, envelope_id", ())

    def backlog(self) -> dict[str, tuple[int, int]]:
        """Per partner: (envelopes not yet delivered or rejected, created_at of the oldest in ms)."""
        rows = self._run("SELECT partner, COUNT(*) AS n, MIN(created_at) AS first FROM {p}cmaa_outbox "
                         "WHERE status = 'pending' GROUP BY partner", fetch=True)
        return {row["partner"]: (int(row["n"]), int(row["first"])) for row in rows}

    def oldest_due_ms(self) -> int | None:
        """Since when (ms) the longest-waiting due envelope has been due: a courier that
        works keeps this close to now, whatever the partner does (backoff moves it on)."""
        rows = self._run("SELECT MIN(next_attempt_at) AS first FROM {p}cmaa_outbox WHERE status = 'pending' "
                         "AND next_attempt_at <= ?", (_now_ms(),), fetch=True)
        return int(rows[0]["first"]) if rows and rows[0]["first"] is not None else None

    def record_attempt(self, envelope_id: str, owner: str, digests: list[str]) -> None:
        """Before sending: the digests of every envelope sent for this row so far, this one last
        (the claimed row's, as only its lease holder writes them), so a receipt for any attempt verifies."""
        self._run("UPDATE {p}cmaa_outbox SET sent_digests = ?, attempts = attempts + 1 "
                  "WHERE envelope_id = ? AND lease_owner = ?", (json.dumps(digests), envelope_id, owner))

    def mark_retry(self, envelope_id: str, owner: str, error: str, delay_ms: int) -> None:
        self._run("UPDATE {p}cmaa_outbox SET last_error = ?, next_attempt_at = ?, lease_owner = NULL, "
                  "lease_until = NULL WHERE envelope_id = ? AND lease_owner = ?",
                  (error[:500], _now_ms() + delay_ms, envelope_id, owner))

    def requeue(self, envelope_id: str) -> None:
        self._run("UPDATE {p}cmaa_outbox SET status = 'pending', next_attempt_at = ?, rejection = NULL "
                  "WHERE envelope_id = ? AND status = 'rejected'", (_now_ms(), envelope_id))

    # -- inbox -------------------------------------------------------------------------
    def inbox_get(self, envelope_id: str) -> dict | None:
        columns = ", ".join(INBOX_COLUMNS)
        rows = self._run(f"SELECT {columns} FROM {{p}}cmaa_inbox WHERE envelope_id = ?", (envelope_id,), fetch=True)
        return rows[0] if rows else None


def inbox_row(*, envelope_id: str, sender: str, content_sha256: str, envelope_sha256: str, receipt: str,
              case_id: str) -> dict:
    return {"envelope_id": envelope_id, "sender": sender, "content_sha256": content_sha256,
            "envelope_sha256": envelope_sha256, "receipt": receipt, "received_at": _now_ms(), "case_id": case_id}
