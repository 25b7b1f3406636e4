"""The outbox and inbox, in the event store's own database and transactions.

The node's recorders (``adapters/recorders.py``) are the library's native ones, extended so
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
from typing import Any

from adapters.recorders import CmaaPostgresRecorder
from adapters.sql import INBOX_COLUMNS, OUTBOX_COLUMNS, now_ms, one_statement


def outbox_row(*, envelope_id: str, case_id: str, partner: str, kind: str, payload: dict[str, Any],
               request_id: str | None = None) -> dict:
    """``request_id`` is the API call that caused the envelope, so the logs of its
    delivery and receipt carry the same id."""
    now = now_ms()
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
                "lease_owner = NULL, lease_until = NULL WHERE envelope_id = ?", (receipt, now_ms(), envelope_id))
    return ("UPDATE {p}cmaa_outbox SET status = 'rejected', rejection = ?, lease_owner = NULL, "
            "lease_until = NULL WHERE envelope_id = ?", (json.dumps(rejection), envelope_id))


def requeue_update(envelope_id: str) -> tuple[str, tuple]:
    """The statement that puts an envelope the partner refused back in the outbox, to be sealed
    afresh and sent again (in the transaction of the case's ``EnvelopeResent``)."""
    return ("UPDATE {p}cmaa_outbox SET status = 'pending', next_attempt_at = ?, attempts = 0, rejection = NULL, "
            "lease_owner = NULL, lease_until = NULL WHERE envelope_id = ? AND status = 'rejected'",
            (now_ms(), envelope_id))


class StoreTables:
    """Queries on the node's own tables, through the store's own datastore: ``{p}`` for the table prefix,
    ``?`` for parameters, rows as dicts on either back end."""

    def __init__(self, recorder):
        self.recorder = recorder
        self.postgres = isinstance(recorder, CmaaPostgresRecorder)
        self.prefix = recorder.table_prefix if self.postgres else ""
        self.mark = "%s" if self.postgres else "?"

    def _run(self, sql: str, params: tuple = (), *, fetch: bool = False) -> list[dict]:
        sql = sql.replace("{p}", self.prefix).replace("?", self.mark)
        with one_statement(self.recorder.datastore, self.postgres) as cursor:
            cursor.execute(sql, params)
            if not fetch:
                return []
            rows = cursor.fetchall()
        return [dict(row) if self.postgres else dict(zip(self._columns_of(sql), row)) for row in rows]

    @staticmethod
    def _columns_of(sql: str) -> list[str]:
        select = sql.split("SELECT", 1)[1].split("FROM", 1)[0]
        return [c.split(" AS ")[-1].strip().split(".")[-1] for c in select.split(",")]


class ExchangeTables(StoreTables):
    """Queries on the outbox and inbox."""

    # -- outbox ---------------------------------------------------------------------
    def claim_due(self, owner: str, limit: int, lease_ms: int = 30_000) -> list[dict]:
        """Lease due envelopes, oldest first; an envelope only with every earlier pending one of its case.

        Envelopes of one case reach the partner in the order they were made (JP-NO Art. 14(1): an
        advance notice before the disclosure it announces), across retries, backoffs, restarts and
        several couriers: a row whose case has an earlier pending envelope that is waiting out a
        backoff or leased by a courier is not claimed. The earlier ones sort first, so a batch that
        holds a later envelope holds the earlier ones too; the courier sends a case's in order and
        stops at the first that does not go. On PostgreSQL, claims are serialised by an advisory
        lock (a claim is two short statements), so two couriers never both see an earlier
        envelope as free.
        """
        now = now_ms()
        statements = [("SELECT pg_advisory_xact_lock(7317011)", ())] if self.postgres else []
        statements.append(self.lease_statement(owner, limit, now, lease_ms))
        self._many(statements)
        return self._select("WHERE lease_owner = ? AND lease_until > ? AND status = 'pending' "
                            "ORDER BY created_at, envelope_id", (owner, now))

    def lease_statement(self, owner: str, limit: int, now: int, lease_ms: int = 30_000) -> tuple[str, tuple]:
        """The claim's UPDATE (:meth:`claim_due`), with its parameters."""
        return ("UPDATE {p}cmaa_outbox SET lease_owner = ?, lease_until = ? WHERE envelope_id IN ("
                " SELECT o.envelope_id FROM {p}cmaa_outbox o WHERE o.status = 'pending' AND o.next_attempt_at <= ?"
                " AND (o.lease_until IS NULL OR o.lease_until < ?)"
                # An earlier envelope of the case that blocks this one, looked up through the case's index for
                # each due row. A scalar subquery, not NOT EXISTS: PostgreSQL turns NOT EXISTS into an anti join
                # and, on statistics that lag the outbox (a young table, a backlog built since the last ANALYZE),
                # planned it as a scan of every pending row for each: 98 ms for 300 pending, growing as the square.
                " AND (SELECT 1 FROM {p}cmaa_outbox e WHERE e.case_id = o.case_id AND e.status = 'pending'"
                "  AND (e.created_at < o.created_at OR (e.created_at = o.created_at AND e.envelope_id < o.envelope_id))"
                "  AND (e.next_attempt_at > ? OR e.lease_until >= ?) LIMIT 1) IS NULL"
                " ORDER BY o.created_at, o.envelope_id LIMIT ? " + ("FOR UPDATE SKIP LOCKED" if self.postgres else "")
                + ")", (owner, now + lease_ms, now, now, now, now, limit))

    def _many(self, statements: list[tuple[str, tuple]]) -> None:
        with self.recorder.datastore.transaction(commit=True) as cursor:
            for sql, params in statements:
                cursor.execute(sql.replace("{p}", self.prefix).replace("?", self.mark), params)

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

    def by_partner(self) -> dict[str, dict[str, int | None]]:
        """Per partner and status: envelopes, those retried at least once, the oldest created (ms)."""
        rows = self._run("SELECT partner, status, COUNT(*) AS n, SUM(CASE WHEN attempts > 1 THEN 1 ELSE 0 END) "
                         "AS retried, MIN(created_at) AS first FROM {p}cmaa_outbox GROUP BY partner, status",
                         fetch=True)
        summary: dict[str, dict[str, int | None]] = {}
        for row in rows:
            entry = summary.setdefault(row["partner"], {"pending": 0, "delivered": 0, "rejected": 0, "retried": 0,
                                                        "oldest_pending": None})
            entry[row["status"]] = int(row["n"])
            if row["status"] == "pending":
                entry["retried"] = int(row["retried"] or 0)
                entry["oldest_pending"] = int(row["first"])
        return summary

    def oldest_due_ms(self) -> int | None:
        """Since when (ms) the longest-waiting due envelope has been due: a courier that
        works keeps this close to now, whatever the partner does (backoff moves it on)."""
        rows = self._run("SELECT MIN(next_attempt_at) AS first FROM {p}cmaa_outbox WHERE status = 'pending' "
                         "AND next_attempt_at <= ?", (now_ms(),), fetch=True)
        return int(rows[0]["first"]) if rows and rows[0]["first"] is not None else None

    def record_attempt(self, envelope_id: str, owner: str, digests: list[str]) -> None:
        """Before sending: the digests of every envelope sent for this row so far, this one last
        (the claimed row's, as only its lease holder writes them), so a receipt for any attempt verifies."""
        self._run("UPDATE {p}cmaa_outbox SET sent_digests = ?, attempts = attempts + 1 "
                  "WHERE envelope_id = ? AND lease_owner = ?", (json.dumps(digests), envelope_id, owner))

    def record_attempts(self, attempts: list[tuple[str, list[str]]], owner: str) -> None:
        """:meth:`record_attempt` for the envelopes of one batch, in one transaction."""
        self._many([("UPDATE {p}cmaa_outbox SET sent_digests = ?, attempts = attempts + 1 "
                     "WHERE envelope_id = ? AND lease_owner = ?", (json.dumps(digests), envelope_id, owner))
                    for envelope_id, digests in attempts])

    def mark_retry(self, envelope_id: str, owner: str, error: str, delay_ms: int) -> None:
        self._run("UPDATE {p}cmaa_outbox SET last_error = ?, next_attempt_at = ?, lease_owner = NULL, "
                  "lease_until = NULL WHERE envelope_id = ? AND lease_owner = ?",
                  (error[:500], now_ms() + delay_ms, envelope_id, owner))

    # -- inbox -------------------------------------------------------------------------
    def inbox_get(self, envelope_id: str) -> dict | None:
        columns = ", ".join(INBOX_COLUMNS)
        rows = self._run(f"SELECT {columns} FROM {{p}}cmaa_inbox WHERE envelope_id = ?", (envelope_id,), fetch=True)
        return rows[0] if rows else None


def inbox_row(*, envelope_id: str, sender: str, content_sha256: str, envelope_sha256: str, receipt: str,
              case_id: str) -> dict:
    return {"envelope_id": envelope_id, "sender": sender, "content_sha256": content_sha256,
            "envelope_sha256": envelope_sha256, "receipt": receipt, "received_at": now_ms(), "case_id": case_id}
