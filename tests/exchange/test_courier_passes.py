"""When the courier runs a delivery pass (``CourierThread``): at once when an envelope is queued, again at
once while a pass claims a full batch, and otherwise not until the next wake-up or idle poll, so that an
idle node does not claim (a write transaction on SQLite) after every delivery only to find nothing."""

from __future__ import annotations

import time

from service.exchange.courier_runners import CourierThread
from tests.factories import jp_no_request
from tests.servers import wait_until


def _counting_claims(courier) -> list[int]:
    claims: list[int] = []
    claim_due = courier.store.exchange.claim_due

    def counted(owner, limit, *args, **kwargs):
        rows = claim_due(owner, limit, *args, **kwargs)
        claims.append(len(rows))
        return rows

    courier.store.exchange.claim_due = counted
    return claims


def _delivered(side) -> int:
    return sum(1 for row in side.node.store.exchange._select("", ()) if row["status"] == "delivered")


def test_a_queued_envelope_is_delivered_at_once_and_no_empty_claim_follows(nodes):
    no, _ = nodes
    claims = _counting_claims(no.node.courier)
    thread = CourierThread(no.node.courier, interval=60)  # no idle poll within the test
    thread.start()
    try:
        wait_until(lambda: claims == [0])  # the first pass, at start: nothing due
        for expected in (1, 2):
            assert no.api.post("/cases", json=jp_no_request(), headers=no.official).status_code == 201  # wakes it
            wait_until(lambda: _delivered(no) == expected)
            time.sleep(0.3)
            assert claims == [0] + [1] * expected  # one claim per envelope: none that finds nothing
    finally:
        assert thread.stop()


def test_passes_follow_each_other_while_each_claims_a_full_batch(nodes):
    no, _ = nodes
    for _ in range(5):
        assert no.api.post("/cases", json=jp_no_request(), headers=no.official).status_code == 201
    no.node.courier.batch = 2
    claims = _counting_claims(no.node.courier)
    thread = CourierThread(no.node.courier, interval=60)
    thread.start()
    try:
        wait_until(lambda: _delivered(no) == 5)  # with no wake-up: two full passes, then the last one
        time.sleep(0.3)
        assert claims == [2, 2, 1]
    finally:
        assert thread.stop()
