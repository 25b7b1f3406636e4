"""A case between two nodes, every step an envelope, with signed receipts."""

from __future__ import annotations

from uuid import UUID

from domain.messages import local_case_id
from tests.factories import item, jp_no_request


def jp_case_id(no_case_id: str) -> UUID:
    return local_case_id("JP", "NO", UUID(no_case_id))


def test_a_request_opens_the_requested_sides_case_and_the_receipt_is_stored(nodes):
    no, jp = nodes
    case = no.api.post("/cases", json=jp_no_request(), headers=no.official).json()
    assert no.node.store.exchange.pending()[0]["kind"] == "request"

    assert no.deliver() == 1

    received = jp.api.get(f"/cases/{jp_case_id(case['id'])}", headers=jp.official).json()
    assert received["side"] == "requested" and received["status"] == "received"
    assert received["content"] == case["content"]
    assert received["opened_by"] == {"administration": "NO", "official": "no-hansen"}
    history = no.api.get(f"/cases/{case['id']}/history", headers=no.official).json()["data"]
    assert history[-1]["event"] == "EnvelopeDelivered"
    assert no.node.store.exchange.pending() == []


def test_a_receipt_already_recorded_on_the_case_still_marks_the_outbox_row(nodes):
    """Two couriers racing for one envelope (or a retry): the second receipt adds no event to the
    case, and the row is marked delivered in that same (event-less) transaction."""
    no, jp = nodes
    case = no.api.post("/cases", json=jp_no_request(), headers=no.official).json()
    assert no.deliver() == 1
    [row] = no.node.store.exchange.for_case(case["id"])
    assert row["status"] == "delivered"
    no.node.store.exchange._run("UPDATE {p}cmaa_outbox SET status = 'pending', receipt = NULL, next_attempt_at = 0 "
                                "WHERE envelope_id = ?", (row["envelope_id"],))
    assert no.deliver() == 1  # re-sent: JP answers with the receipt it gave
    [again] = no.node.store.exchange.for_case(case["id"])
    assert again["status"] == "delivered" and again["receipt"] == row["receipt"]
    history = [e["event"] for e in no.api.get(f"/cases/{case['id']}/history", headers=no.official).json()["data"]]
    assert history.count("EnvelopeDelivered") == 1


def test_acknowledgement_and_restricted_reply_travel_back(nodes):
    no, jp = nodes
    case_id = no.api.post("/cases", json=jp_no_request(), headers=no.official).json()["id"]
    no.deliver()
    theirs = jp_case_id(case_id)

    jp.api.post(f"/cases/{theirs}/acknowledgement", headers=jp.official)
    jp.deliver()
    assert no.api.get(f"/cases/{case_id}", headers=no.official).json()["status"] == "acknowledged"

    jp.api.post(f"/cases/{theirs}/replies", headers=jp.official,
                json={"items": [item(law_enforcement_onward=False, use_conditions=["Customs use only"])]})
    jp.deliver()
    mine = no.api.get(f"/cases/{case_id}", headers=no.official).json()
    assert mine["status"] == "replied"
    [received] = mine["items"]
    assert received["restrictions"]["law_enforcement_onward"] is False
    assert received["restrictions"]["use_conditions"] == ["Customs use only"]
    events = [e["event"] for e in no.api.get(f"/cases/{case_id}/history", headers=no.official).json()["data"]]
    assert events == ["AssistanceRequested", "EnvelopeDelivered", "PartnerStepReceived", "PartnerStepReceived"]


def test_refusal_with_reasons_reaches_the_requester(nodes):
    no, jp = nodes
    case_id = no.api.post("/cases", json=jp_no_request(), headers=no.official).json()["id"]
    no.deliver()
    theirs = jp_case_id(case_id)
    jp.api.post(f"/cases/{theirs}/acknowledgement", headers=jp.official)
    jp.api.post(f"/cases/{theirs}/refusal", headers=jp.official,
                json={"grounds": ["public_policy"], "reasons": "Contrary to public policy"})
    assert jp.deliver() == 2
    mine = no.api.get(f"/cases/{case_id}", headers=no.official).json()
    assert mine["status"] == "refused"
    assert mine["refusal"]["reasons"] == "Contrary to public policy"


def test_spontaneous_assistance_opens_a_receiving_case(nodes):
    no, jp = nodes
    made = no.api.post("/cases/spontaneous", headers=no.official, json={
        "agreement": "jp-no-2016", "partner_administration": "JP", "relevance": "Counterfeit medicine to Osaka",
        "items": [item(confidentiality="secret")]}).json()
    no.deliver()
    received = jp.api.get(f"/cases/{jp_case_id(made['id'])}", headers=jp.official).json()
    assert received["side"] == "receiving"
    assert received["items"][0]["restrictions"]["confidentiality"] == "secret"


def test_oral_request_and_its_written_confirmation_travel(nodes):
    no, jp = nodes
    case_id = no.api.post("/cases/oral", json=jp_no_request(), headers=no.official).json()["id"]
    no.deliver()
    theirs = jp.api.get(f"/cases/{jp_case_id(case_id)}", headers=jp.official).json()
    assert theirs["channel"] == "oral" and theirs["written_confirmation"]["confirmed_at"] is None
    no.api.post(f"/cases/{case_id}/written-confirmation", headers=no.official, json={"reference": "L-1"})
    no.deliver()
    theirs = jp.api.get(f"/cases/{jp_case_id(case_id)}", headers=jp.official).json()
    assert theirs["written_confirmation"]["confirmed_at"] is not None
