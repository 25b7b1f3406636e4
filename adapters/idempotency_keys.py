"""Idempotency keys of API writes, in the node's own store (``service/http/idempotency.py``).

One row per (principal, key): the request's fingerprint, its state and, once answered, the
response. States: ``pending`` (claimed, under way), ``committed`` (its store write committed —
set *in the same transaction as the write* by ``EventStore.commit``, see ``marker``),
``done`` (the response is recorded and is replayed to a retry).
"""

from __future__ import annotations

import contextvars
import json
import time
import uuid
from dataclasses import dataclass

TABLE = "cmaa_idempotency"
COLUMNS = ("principal", "idem_key", "fingerprint", "state", "status", "headers", "body", "created_at")

_current: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("cmaa_idempotency", default=None)


@dataclass
class Record:
    fingerprint: str
    state: str
    status: int | None
    headers: list[tuple[str, str]]
    body: bytes
    created_at: float


def marker() -> tuple[str, tuple] | None:
    """The statement that marks the current request's key ``committed``, for ``EventStore.commit``
    to run in the write's own transaction; ``None`` outside a keyed request."""
    current = _current.get()
    if current is None:
        return None
    return (f"UPDATE {{p}}{TABLE} SET state = 'committed' WHERE principal = ? AND idem_key = ? "
            "AND state = 'pending'", current)


def keyed(principal: str, key: str) -> contextvars.Token:
    return _current.set((principal, key))


def unkeyed(token: contextvars.Token) -> None:
    _current.reset(token)


class IdempotencyKeys:
    def __init__(self, recorder, retention_seconds: float):
        from adapters.exchange_tables import CmaaPostgresRecorder  # (it imports adapters.store, which imports us)

        self.recorder = recorder
        self.postgres = isinstance(recorder, CmaaPostgresRecorder)
        self.prefix = recorder.table_prefix if self.postgres else ""
        self.mark = "%s" if self.postgres else "?"
        self.retention = retention_seconds
        self._swept = 0.0
        self._ensure_table()

    def _run(self, sql: str, params: tuple = (), fetch: bool = False) -> list[tuple]:
        return self._many([(sql, params)], fetch)

    def _many(self, statements: list[tuple[str, tuple]], fetch: bool = False) -> list[tuple]:
        """Statements in one transaction; the rows of the last one if ``fetch``."""
        with self.recorder.datastore.transaction(commit=True) as cursor:
            for sql, params in statements:
                cursor.execute(sql.replace("{p}", self.prefix).replace("?", self.mark), params)
            rows = cursor.fetchall() if fetch else []
        return [tuple(row.values()) if isinstance(row, dict) else tuple(row) for row in rows]

    def _ensure_table(self) -> None:
        # Only when missing: a node started under load runs no DDL on a complete schema.
        if self.postgres:
            found = self._run("SELECT to_regclass(?) IS NOT NULL", (f"{self.prefix}{TABLE}",), fetch=True)[0][0]
        else:
            found = bool(self._run("SELECT 1 FROM sqlite_master WHERE name = ?", (TABLE,), fetch=True))
        if not found:
            blob = "BYTEA" if self.postgres else "BLOB"
            self._run(f"CREATE TABLE IF NOT EXISTS {{p}}{TABLE} (principal TEXT NOT NULL, idem_key TEXT NOT NULL, "
                      f"fingerprint TEXT NOT NULL, state TEXT NOT NULL, status INTEGER, headers TEXT, body {blob}, "
                      "created_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (principal, idem_key))")
            self._run(f"CREATE INDEX IF NOT EXISTS {TABLE}_created ON {{p}}{TABLE} (created_at)")

    def claim(self, principal: str, key: str, fingerprint: str, stale_after: float,
              abandoned: str = "") -> tuple[Record | None, str]:
        """Claim the key for a new request (``(None, claim)``), or return what the key already
        holds. An expired key, a ``pending`` one abandoned for ``stale_after`` seconds (its
        process died before its write), or our own earlier ``abandoned`` claim (its request
        failed and the store could not take the release then) is claimed afresh."""
        now = time.time()
        self._sweep(now)
        claim = uuid.uuid4().hex  # kept in ``headers`` while pending: tells our claim from another's
        rows = self._many([
            (f"DELETE FROM {{p}}{TABLE} WHERE principal = ? AND idem_key = ? AND "
             "(created_at < ? OR (state = 'pending' AND (created_at < ? OR headers = ?)))",
             (principal, key, now - self.retention, now - stale_after, abandoned or "-")),
            (f"INSERT INTO {{p}}{TABLE} (principal, idem_key, fingerprint, state, headers, created_at) "
             "VALUES (?, ?, ?, 'pending', ?, ?) ON CONFLICT DO NOTHING", (principal, key, fingerprint, claim, now)),
            (f"SELECT fingerprint, state, status, headers, body, created_at FROM {{p}}{TABLE} "
             "WHERE principal = ? AND idem_key = ?", (principal, key))], fetch=True)
        if not rows:
            return None, claim
        fp, state, status, headers, body, created = rows[0]
        if state == "pending" and headers == claim:
            return None, claim  # ours
        replay = [tuple(h) for h in json.loads(headers)] if state == "done" else []
        return Record(fp, state, status, replay, bytes(body or b""), created), claim

    def answer(self, principal: str, key: str, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self._run(f"UPDATE {{p}}{TABLE} SET state = 'done', status = ?, headers = ?, body = ? "
                  "WHERE principal = ? AND idem_key = ?", (status, json.dumps(headers), body, principal, key))

    def release(self, principal: str, key: str) -> None:
        """The request changed nothing (an error that invites a retry): free the key, unless its
        write committed, in which case a retry must not run it again."""
        self._run(f"DELETE FROM {{p}}{TABLE} WHERE principal = ? AND idem_key = ? AND state = 'pending'",
                  (principal, key))

    def _sweep(self, now: float) -> None:
        if now - self._swept > 60:
            self._swept = now
            self._run(f"DELETE FROM {{p}}{TABLE} WHERE created_at < ?", (now - self.retention,))
