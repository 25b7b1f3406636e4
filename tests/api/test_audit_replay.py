"""Auditors replay a case as of a time, with findings; each read is itself recorded."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from domain.reads import RecordRead
from tests.factories import jp_no_request, received_request

PURPOSE = {"purpose": "annual audit 2026"}


def replay(api, who, case_id, **params):
    response = api.get(f"/audit/cases/{case_id}/replay", params=PURPOSE | params, headers=who.auditor)
    assert response.status_code == 200, response.text
    return response.json()


def test_replay_as_of_a_time_shows_the_case_as_it_stood(api, who, clock):
    case_id = api.post("/cases/received", json=received_request(), headers=who.official).json()["id"]
    before_ack = clock.now() + timedelta(seconds=1)
    clock.advance(seconds=5)
    api.post(f"/cases/{case_id}/acknowledgement", headers=who.official)
    then = replay(api, who, case_id, as_of=before_ack.isoformat())
    now = replay(api, who, case_id)
    assert [e["event"] for e in then["events"]] == ["RequestReceived"]
    assert then["case"]["status"] == "received"
    assert [e["event"] for e in now["events"]] == ["RequestReceived", "RequestAcknowledged"]
    assert now["case"]["status"] == "acknowledged"


def test_every_auditor_read_is_recorded_with_its_purpose(api, who, node):
    case_id = api.post("/cases", json=jp_no_request(), headers=who.official).json()["id"]
    replay(api, who, case_id)
    reads = [n for n in node.store.notifications(1, 1000) if n.topic.endswith("RecordRead")]
    assert len(reads) == 1
    read = node.store.load(reads[0].originator_id)
    assert isinstance(read, RecordRead)
    assert (read.case_id, read.purpose, read.reader["official"]) == (case_id, "annual audit 2026", "no-audit")


def test_replay_needs_the_auditor_role_and_a_purpose(api, who):
    case_id = api.post("/cases", json=jp_no_request(), headers=who.official).json()["id"]
    assert api.get(f"/audit/cases/{case_id}/replay", params=PURPOSE, headers=who.official).status_code == 403
    missing = api.get(f"/audit/cases/{case_id}/replay", headers=who.auditor)
    assert missing.status_code == 422 and missing.json()["field"] == "query.purpose"


def test_findings_for_an_unconfirmed_oral_request_and_an_overdue_reply(api, who, clock):
    oral = api.post("/cases/oral", json=jp_no_request(), headers=who.official).json()["id"]
    received = api.post("/cases/received", json=received_request(), headers=who.official).json()["id"]
    assert replay(api, who, oral)["findings"] == []
    clock.advance(days=100)
    [finding] = replay(api, who, oral)["findings"]
    assert (finding["rule"], finding["article"]) == ("oral-request-not-confirmed", "JP-NO Art. 11(3)")
    [overdue] = replay(api, who, received)["findings"]
    assert (overdue["rule"], overdue["article"]) == ("reply-overdue", "JP-NO Art. 12(1)")


def test_a_disclosure_that_slipped_past_the_policy_is_a_finding(api, who, node, clock):
    """E.g. a bug or an edited store: replay re-checks every disclosure against the rules."""
    case_id = api.post("/cases", json=jp_no_request(), headers=who.official).json()["id"]
    case = node.store.load(UUID(case_id))
    case._information_provided(by={"administration": "JP", "official": "jp-tanaka"}, at=clock.now(), articles=[],
                               items=[{"item_id": "i-1", "title": "t", "content": "c", "personal_data": True,
                                       "restrictions": {"purposes": ["customs_law_application"],
                                                        "confidentiality": "confidential", "use_conditions": [],
                                                        "law_enforcement_onward": False, "retention_days": 30}}],
                               final=True, partial_reasons=None, conditions=[])
    case.record_disclosure(disclosure_id="d-1", request={
        "items": ["i-1"], "action": "disclosure", "purpose": "customs_law_application", "basis": "law_enforcement",
        "recipient_authority": "Police", "recipient_kind": "law_enforcement", "consent_id": None,
        "legal_provision": None, "advance_notice_id": None, "notice_impossible_reason": None},
        articles=["JP-NO Art. 7(3)"], by={"administration": "NO", "official": "no-hansen"}, at=clock.now())
    node.store.commit(case)
    rules = {f["rule"]: f["article"] for f in replay(api, who, case_id)["findings"]}
    assert rules == {"disclosure-without-basis": "JP-NO Art. 7(3)"}
    clock.advance(days=31)
    rules = {f["rule"]: f["article"] for f in replay(api, who, case_id)["findings"]}
    assert rules["personal-data-kept-past-retention"] == "JP-NO Art. 9(2)"


def test_replay_as_of_is_a_state_the_store_held_never_a_later_event_with_an_earlier_clock(api, who, clock):
    """A step recorded by a replica whose clock lags carries an earlier `at` than the step committed
    before it: as of a moment between the two, the store held neither, so neither is replayed."""
    case_id = api.post("/cases/received", json=received_request(), headers=who.official).json()["id"]
    start = clock.now()
    clock.advance(seconds=10)
    api.post(f"/cases/{case_id}/acknowledgement", headers=who.official)
    clock.at = start + timedelta(seconds=2)  # the other replica's clock, 8 s behind
    assert api.post(f"/cases/{case_id}/forwarding", json={"authority": "Police"},
                    headers=who.official).status_code == 200
    then = replay(api, who, case_id, as_of=(start + timedelta(seconds=5)).isoformat())
    assert [e["event"] for e in then["events"]] == ["RequestReceived"]
    assert then["case"]["status"] == "received"
    bound = replay(api, who, case_id, as_of=(start + timedelta(seconds=10)).isoformat())
    assert [e["event"] for e in bound["events"]] == ["RequestReceived", "RequestAcknowledged", "RequestForwarded"]


def test_a_received_request_closed_unanswered_is_a_finding(api, who, node, clock):
    """A store written before the rule (or edited): replay names the missing refusal with reasons."""
    case_id = api.post("/cases/received", json=received_request(), headers=who.official).json()["id"]
    case = node.store.load(UUID(case_id))
    case._closed(by={"administration": "NO", "official": "no-hansen"}, at=clock.now(), reason="no capacity")
    node.store.commit(case)
    rules = {f["rule"]: f["article"] for f in replay(api, who, case_id)["findings"]}
    assert rules == {"closed-without-answer": "JP-NO Art. 12(3), 14(5)"}
