"""The courier's claim on PostgreSQL does work in proportion to the due envelopes, whatever the table's
statistics say: measured in rows the plan reads (EXPLAIN ANALYZE), never in time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from adapters.exchange_tables import outbox_row
from adapters.sql import now_ms
from adapters.store import EventStore
from domain.credentials import Credential

PENDING = 300


def rows_read(plan: dict) -> int:
    """Rows each node of a plan produced or discarded, over all its loops."""
    own = (plan.get("Actual Rows", 0) + plan.get("Rows Removed by Filter", 0)
           + plan.get("Rows Removed by Join Filter", 0)) * plan.get("Actual Loops", 1)
    return own + sum(rows_read(child) for child in plan.get("Plans", []))


@pytest.mark.postgres
def test_a_claim_reads_rows_in_proportion_to_the_backlog_on_statistics_that_lag_it(pg_url):
    """A young outbox never analysed, then a backlog of 300 envelopes queued one commit each (a partner down
    while officials work): PostgreSQL planned the old claim (NOT EXISTS) as a scan of every pending row for
    each pending row, ~90,000 rows read per claim (98 ms), growing as the square of the backlog."""
    store = EventStore(pg_url)
    try:
        at = datetime(2026, 1, 1, tzinfo=UTC)
        for i in range(PENDING):
            store.commit(Credential(token_id=uuid.uuid4().hex[:16], official_id="o", secret_digest="d", by="t",
                                    at=at),
                         outbox=[outbox_row(envelope_id=str(uuid.uuid4()), case_id=str(uuid.uuid4()), partner="JP",
                                            kind="request", payload={"n": i})])
        exchange = store.exchange
        sql, params = exchange.lease_statement("courier", 16, now_ms())
        with store.recorder.datastore.transaction(commit=False) as cursor:  # rolled back: nothing leased
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql.replace("{p}", exchange.prefix).replace("?", "%s"),
                           params)
            [[explained]] = [list(row.values()) for row in cursor.fetchall()]
        read = rows_read(explained[0]["Plan"])
        assert read < 20 * PENDING, read
        assert len(exchange.claim_due("courier", 16)) == 16
    finally:
        store.close()
