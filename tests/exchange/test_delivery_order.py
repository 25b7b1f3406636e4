"""Envelopes of one case reach the partner in the order they were made (JP-NO Art. 14(1): the
advance notice before the disclosure it announces), across retries, backoffs and several couriers."""

from __future__ import annotations

import dataclasses
from uuid import UUID

import httpx

from domain.messages import local_case_id
from tests.factories import item, jp_no_request


def _down(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("partner unreachable", request=request)


def _steps(side, case_id) -> list[str]:
    history = side.api.get(f"/cases/{case_id}/history", headers=side.official).json()["data"]
    return [e["data"].get("step") for e in history if e["event"] == "PartnerStepReceived"]


def _due_now(side, case_id) -> None:
    """Time passes: every pending envelope of the case is past its backoff."""
    side.node.store.exchange._run("UPDATE {p}cmaa_outbox SET next_attempt_at = 0 WHERE case_id = ? "
                                  "AND status = 'pending'", (case_id,))


def test_a_later_step_never_overtakes_an_earlier_one_in_backoff_across_several_couriers(nodes):
    no, jp = nodes
    case_id = no.api.post("/cases", json=jp_no_request(), headers=no.official).json()["id"]
    assert no.deliver() == 1
    theirs = str(local_case_id("JP", "NO", UUID(case_id)))
    partner = jp.node.courier.http
    couriers = [jp.node.courier, dataclasses.replace(jp.node.courier, owner="courier-2"),
                dataclasses.replace(jp.node.courier, owner="courier-3")]
    for courier in couriers:
        courier.http = httpx.Client(transport=httpx.MockTransport(_down))
    # The acknowledgement is made during the outage and goes into backoff ...
    assert jp.api.post(f"/cases/{theirs}/acknowledgement", headers=jp.official).status_code in (200, 201)
    assert couriers[0].deliver_due() == 0
    [ack] = jp.node.store.exchange.for_case(theirs)
    assert ack["next_attempt_at"] > 0 and ack["attempts"] == 1
    # ... the reply made after it is due at once, but no courier may send it before the acknowledgement.
    assert jp.api.post(f"/cases/{theirs}/replies", headers=jp.official, json={"items": [item()]}).status_code in (
        200, 201)
    for courier in couriers:
        courier.http = partner  # the partner is back
        assert courier.deliver_due() == 0
    rows = jp.node.store.exchange.for_case(theirs)
    assert [r["kind"] for r in rows] == ["acknowledgement", "reply"]
    assert [r["status"] for r in rows] == ["pending", "pending"]
    # One courier holds the acknowledgement's lease (restarted mid-delivery): the others wait for it too.
    _due_now(jp, theirs)
    jp.node.store.exchange._run("UPDATE {p}cmaa_outbox SET lease_owner = 'crashed', lease_until = ? "
                                "WHERE envelope_id = ?", (2**62, ack["envelope_id"]))
    assert [courier.deliver_due() for courier in couriers] == [0, 0, 0]
    jp.node.store.exchange._run("UPDATE {p}cmaa_outbox SET lease_until = 0 WHERE envelope_id = ?",
                                (ack["envelope_id"],))  # the lease runs out
    assert sum(courier.deliver_due() for courier in couriers) == 2
    assert _steps(no, case_id) == ["acknowledgement", "reply"]
    assert no.api.get(f"/cases/{case_id}", headers=no.official).json()["status"] == "replied"
    assert [r["status"] for r in jp.node.store.exchange.for_case(theirs)] == ["delivered", "delivered"]


def test_cases_do_not_wait_for_each_other(nodes):
    """Order is per case: a case whose envelope is in backoff holds up no other case's."""
    no, jp = nodes
    first = no.api.post("/cases", json=jp_no_request(), headers=no.official).json()["id"]
    partner = no.node.courier.http
    no.node.courier.http = httpx.Client(transport=httpx.MockTransport(_down))
    assert no.deliver() == 0
    no.node.courier.http = partner
    second = no.api.post("/cases", json=jp_no_request(case_description="Another case"),
                         headers=no.official).json()["id"]
    assert no.deliver() == 1
    assert [r["status"] for r in no.node.store.exchange.for_case(second)] == ["delivered"]
    assert [r["status"] for r in no.node.store.exchange.for_case(first)] == ["pending"]
