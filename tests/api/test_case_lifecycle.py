"""The case lifecycle through the HTTP API, on both sides, on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.factories import item, jp_no_request, received_request


def received_case(api, who, **overrides):
    response = api.post("/cases/received", json=received_request(**overrides), headers=who.official)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def acknowledged_case(api, who, **overrides):
    case_id = received_case(api, who, **overrides)
    assert api.post(f"/cases/{case_id}/acknowledgement", headers=who.official).status_code == 200
    return case_id


def history(api, who, case_id):
    response = api.get(f"/cases/{case_id}/history", headers=who.official)
    assert response.status_code == 200
    return response.json()["data"]


def test_official_requests_assistance_in_english_under_jp_no(api, who):
    response = api.post("/cases", json=jp_no_request(), headers=who.official)

    assert response.status_code == 201, response.text
    case = response.json()
    assert case["side"] == "requesting"
    assert case["status"] == "requested"
    assert case["reference"].startswith("NO-2026-")
    assert case["opened_by"] == {"administration": "NO", "official": "no-hansen"}
    [event] = history(api, who, case["id"])
    assert event["event"] == "AssistanceRequested"
    assert "JP-NO Art. 3(1)" in event["articles"] and "JP-NO Art. 11(2)" in event["articles"]


def test_requested_side_acknowledges_and_replies_with_restricted_information(api, who):
    case_id = acknowledged_case(api, who)

    response = api.post(f"/cases/{case_id}/replies", headers=who.official, json={
        "items": [item(purposes=["customs_law_application"], law_enforcement_onward=False,
                       use_conditions=["Not for use in tax assessment"], retention_days=365)],
    })

    assert response.status_code == 200, response.text
    case = response.json()
    assert case["status"] == "replied"
    [stored] = case["items"]
    assert stored["restrictions"]["purposes"] == ["customs_law_application"]
    assert stored["restrictions"]["law_enforcement_onward"] is False
    assert stored["restrictions"]["retention_days"] == 365
    assert "JP-NO Art. 7(3)" in stored["restrictions"]["articles"]
    assert [e["event"] for e in history(api, who, case_id)] == [
        "RequestReceived", "RequestAcknowledged", "InformationProvided"]


def test_restrictions_default_from_the_agreement_profile(api, who):
    case_id = acknowledged_case(api, who)
    case = api.post(f"/cases/{case_id}/replies", headers=who.official, json={"items": [item()]}).json()
    restrictions = case["items"][0]["restrictions"]
    assert restrictions["law_enforcement_onward"] is True  # JP-NO Art. 7(3): unless notified otherwise
    assert restrictions["confidentiality"] == "confidential"


def test_reply_with_a_purpose_outside_the_agreement_is_refused_citing_art_7(api, who):
    case_id = acknowledged_case(api, who)
    response = api.post(f"/cases/{case_id}/replies", headers=who.official,
                        json={"items": [item(purposes=["tax_audit"])]})
    assert response.status_code == 422
    problem = response.json()
    assert problem["article"] == "JP-NO Art. 3(4), 8(2)"
    assert problem["field"] == "items.0.restrictions.purposes"  # dotted, as a validation error's path


def test_partial_assistance_under_conditions_cites_art_14_2(api, who):
    case_id = acknowledged_case(api, who)
    response = api.post(f"/cases/{case_id}/replies", headers=who.official, json={
        "items": [item()], "partial_reasons": "Only 2025 records are available",
        "conditions": ["Not to be shared before the hearing on 1 March"],
    })
    assert response.status_code == 200
    assert response.json()["partial"] is True
    assert "JP-NO Art. 14(2)" in history(api, who, case_id)[-1]["articles"]


def test_special_surveillance_reports_over_time_then_a_final_report(api, who):
    case_id = acknowledged_case(api, who, kind="special_surveillance",
                                surveillance={"subjects": ["vessel IMO 9321483"], "report_every_days": 7})
    for _ in range(2):
        response = api.post(f"/cases/{case_id}/replies", headers=who.official,
                            json={"items": [item()], "final": False})
        assert response.json()["status"] == "replying"
    final = api.post(f"/cases/{case_id}/replies", headers=who.official, json={"items": [item()]})
    assert final.json()["status"] == "replied"
    assert len(final.json()["items"]) == 3


def test_forwarding_to_the_appropriate_authority(api, who):
    case_id = acknowledged_case(api, who)
    response = api.post(f"/cases/{case_id}/forwarding", headers=who.official,
                        json={"authority": "Norwegian Police (Økokrim)", "reason": "Outside customs competence"})
    assert response.status_code == 200
    assert response.json()["status"] == "forwarded"
    assert history(api, who, case_id)[-1]["articles"] == ["JP-NO Art. 12(2)"]


def test_refusal_with_grounds_and_reasons(api, who):
    case_id = acknowledged_case(api, who)
    response = api.post(f"/cases/{case_id}/refusal", headers=who.official,
                        json={"grounds": ["trade_secrecy"], "reasons": "Disclosure would reveal a trade secret"})
    assert response.status_code == 200
    assert response.json()["refusal"]["grounds"] == ["trade_secrecy"]
    assert "JP-NO Art. 14(2)" in history(api, who, case_id)[-1]["articles"]


def test_refusal_without_reasons_is_refused_and_changes_nothing(api, who):
    case_id = acknowledged_case(api, who)
    response = api.post(f"/cases/{case_id}/refusal", headers=who.official,
                        json={"grounds": ["security"], "reasons": "   "})
    assert response.status_code == 422
    assert response.json()["field"] == "reasons"
    assert response.json()["article"] == "JP-NO Art. 12(3), 14(5)"
    assert len(history(api, who, case_id)) == 2


def test_refusal_on_a_ground_the_agreement_does_not_know_is_refused(api, who):
    case_id = acknowledged_case(api, who)
    response = api.post(f"/cases/{case_id}/refusal", headers=who.official,
                        json={"grounds": ["too_busy"], "reasons": "We are busy"})
    assert response.status_code == 422
    assert response.json()["field"] == "grounds"


def test_reciprocity_refusal_needs_the_requests_reciprocity_notice(api, who):
    plain = acknowledged_case(api, who)
    refused = api.post(f"/cases/{plain}/refusal", headers=who.official,
                       json={"grounds": ["reciprocity"], "reasons": "We could not ask the same"})
    assert refused.status_code == 422
    assert refused.json()["article"] == "JP-NO Art. 14(3)"

    noticed = acknowledged_case(api, who, reciprocity_notice="Japan could not execute such a request")
    accepted = api.post(f"/cases/{noticed}/refusal", headers=who.official,
                        json={"grounds": ["reciprocity"], "reasons": "At our discretion under Art. 14(3)"})
    assert accepted.status_code == 200


def test_postponement_then_consultation_then_reply(api, who):
    case_id = acknowledged_case(api, who)
    postponed = api.post(f"/cases/{case_id}/postponement", headers=who.official,
                         json={"reasons": "Would interfere with an ongoing investigation", "until": "2027-02-01"})
    assert postponed.json()["status"] == "postponed"
    consulted = api.post(f"/cases/{case_id}/consultations", headers=who.official,
                         json={"subject": "postponement_terms", "message": "Could we provide a summary now?"})
    assert consulted.json()["status"] == "in_consultation"
    replied = api.post(f"/cases/{case_id}/replies", headers=who.official, json={"items": [item()]})
    assert replied.json()["status"] == "replied"
    articles = [e["articles"] for e in history(api, who, case_id)]
    assert articles[2] == ["JP-NO Art. 14(4)", "JP-NO Art. 14(5)"]
    assert articles[3] == ["JP-NO Art. 14(4)"]


def test_postponement_without_reasons_is_refused(api, who):
    case_id = acknowledged_case(api, who)
    response = api.post(f"/cases/{case_id}/postponement", headers=who.official, json={"reasons": ""})
    assert response.status_code == 422
    assert response.json()["article"] == "JP-NO Art. 14(5)"


def test_reply_to_a_refused_case_is_an_illegal_transition_and_changes_nothing(api, who):
    case_id = acknowledged_case(api, who)
    api.post(f"/cases/{case_id}/refusal", headers=who.official,
             json={"grounds": ["security"], "reasons": "National security"})
    before = api.get(f"/cases/{case_id}", headers=who.official).json()

    response = api.post(f"/cases/{case_id}/replies", headers=who.official, json={"items": [item()]})

    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:cmaa:problem:illegal-transition"
    assert api.get(f"/cases/{case_id}", headers=who.official).json() == before


def test_requesting_side_cannot_acknowledge_its_own_request(api, who):
    case_id = api.post("/cases", json=jp_no_request(), headers=who.official).json()["id"]
    response = api.post(f"/cases/{case_id}/acknowledgement", headers=who.official)
    assert response.status_code == 409
    assert "requested administration" in response.json()["detail"]


def test_reply_before_acknowledgement_is_refused(api, who):
    case_id = received_case(api, who)
    response = api.post(f"/cases/{case_id}/replies", headers=who.official, json={"items": [item()]})
    assert response.status_code == 409


def test_oral_request_is_recorded_with_a_written_confirmation_owed(api, who, clock):
    case = api.post("/cases/oral", json=jp_no_request(), headers=who.official).json()
    assert case["channel"] == "oral"
    assert case["written_confirmation"]["overdue"] is False
    assert case["written_confirmation"]["due_by"].startswith("2026-11-25")
    assert "JP-NO Art. 11(3)" in history(api, who, case["id"])[0]["articles"]

    clock.advance(days=4)
    overdue = api.get("/cases", params={"overdue_confirmation": True}, headers=who.official).json()
    assert [c["id"] for c in overdue["data"]] == [case["id"]]
    assert overdue["data"][0]["written_confirmation"]["overdue"] is True

    confirmed = api.post(f"/cases/{case['id']}/written-confirmation", headers=who.official,
                         json={"reference": "NO-LETTER-2026-77"})
    assert confirmed.json()["written_confirmation"]["overdue"] is False
    assert api.get("/cases", params={"overdue_confirmation": True}, headers=who.official).json()["count"] == 0


def test_a_written_request_cannot_be_confirmed_as_if_oral(api, who):
    case_id = api.post("/cases", json=jp_no_request(), headers=who.official).json()["id"]
    response = api.post(f"/cases/{case_id}/written-confirmation", headers=who.official, json={"reference": "x"})
    assert response.status_code == 409


def test_spontaneous_assistance_carries_items_and_their_restrictions(api, who):
    response = api.post("/cases/spontaneous", headers=who.official, json={
        "agreement": "jp-no-2016", "partner_administration": "JP", "addressed_to": ["jp-tanaka"],
        "relevance": "Shipment of counterfeit medicines bound for Osaka",
        "items": [item(confidentiality="secret")],
    })
    assert response.status_code == 201, response.text
    case = response.json()
    assert case["side"] == "providing" and case["status"] == "provided"
    assert case["items"][0]["restrictions"]["confidentiality"] == "secret"
    assert history(api, who, case["id"])[0]["articles"][0] == "JP-NO Art. 5"


def test_spontaneous_assistance_without_relevance_is_refused_citing_art_5(api, who):
    response = api.post("/cases/spontaneous", headers=who.official, json={
        "agreement": "jp-no-2016", "partner_administration": "JP", "relevance": " ", "items": [item()]})
    assert response.status_code == 422
    assert response.json()["article"] == "JP-NO Art. 5"


def test_listing_pages_through_cases_in_order(api, who):
    ids = [api.post("/cases", json=jp_no_request(), headers=who.official).json()["id"] for _ in range(5)]
    first = api.get("/cases", params={"limit": 3}, headers=who.official).json()
    second = api.get("/cases", params={"limit": 3, "after": first["next_after"]}, headers=who.official).json()
    assert [c["id"] for c in first["data"] + second["data"]] == ids
    assert second["count"] == 2


def test_closing_a_case_and_not_twice(api, who):
    case_id = api.post("/cases", json=jp_no_request(), headers=who.official).json()["id"]
    assert api.post(f"/cases/{case_id}/closure", headers=who.official,
                    json={"reason": "Resolved"}).json()["status"] == "closed"
    assert api.post(f"/cases/{case_id}/closure", headers=who.official, json={"reason": "again"}).status_code == 409


def test_history_lists_who_when_and_article_in_order(api, who):
    case_id = acknowledged_case(api, who)
    api.post(f"/cases/{case_id}/replies", headers=who.colleague, json={"items": [item()]})
    events = history(api, who, case_id)
    assert [e["version"] for e in events] == [1, 2, 3]
    assert events[2]["by"] == {"administration": "NO", "official": "no-berg"}
    assert events[2]["at"].startswith("2026-11-22T10:00:00")
    assert all(e["articles"] for e in events)


def test_a_command_racing_another_write_is_run_again_on_the_new_state(api, who, node, clock):
    """The courier recording a receipt must not make an official's reply fail."""
    case_id = acknowledged_case(api, who)
    original = node.store.commit
    raced = []

    def racing(*aggregates, **kwargs):
        if not raced:
            raced.append(True)
            other = node.store.load(aggregates[0].id)
            other.record_delivery(envelope_id="e-1", kind="acknowledgement", receipt="r", envelope_sha256="d",
                                  at=clock.now())
            original(other)
        return original(*aggregates, **kwargs)

    node.store.commit = racing
    response = api.post(f"/cases/{case_id}/replies", headers=who.official, json={"items": [item()]})
    assert response.status_code == 200, response.text
    assert [e["event"] for e in history(api, who, case_id)][-2:] == ["EnvelopeDelivered", "InformationProvided"]


def test_an_unanswered_received_request_is_not_closed_without_a_refusal_with_reasons(api, who):
    """JP-NO Art. 12(3), 14(5): the requester is told why; closing in silence is refused."""
    case_id = acknowledged_case(api, who)
    response = api.post(f"/cases/{case_id}/closure", headers=who.official, json={"reason": "No capacity"})
    assert response.status_code == 409, response.text
    assert response.json()["article"] == "JP-NO Art. 12(3), 14(5)"
    assert "acknowledged" in response.json()["detail"] and "closure" in response.json()["detail"]
    assert [e["event"] for e in history(api, who, case_id)] == ["RequestReceived", "RequestAcknowledged"]
    api.post(f"/cases/{case_id}/refusal", headers=who.official,
             json={"grounds": ["public_policy"], "reasons": "Contrary to public policy"})
    closed = api.post(f"/cases/{case_id}/closure", headers=who.official, json={"reason": "Refused"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"


def test_a_refusal_or_postponement_without_reasons_is_told_its_article(api, who):
    """JP-NO Art. 12(3), 14(5): reasons are owed to the requester; the problem says so, not just 'missing'."""
    case_id = acknowledged_case(api, who)
    for body in ({"grounds": ["public_policy"]}, {"grounds": ["public_policy"], "reasons": "  "}):
        response = api.post(f"/cases/{case_id}/refusal", headers=who.official, json=body)
        assert response.status_code == 422, response.text
        assert (response.json()["field"], response.json()["article"]) == ("reasons", "JP-NO Art. 12(3), 14(5)")
    response = api.post(f"/cases/{case_id}/postponement", headers=who.official, json={})
    assert (response.status_code, response.json()["article"]) == (422, "JP-NO Art. 14(5)")
    assert [e["event"] for e in history(api, who, case_id)] == ["RequestReceived", "RequestAcknowledged"]


def test_a_history_cites_an_article_once(api, who):
    """A reply cited ['JP-NO Art. 3(4)', 'JP-NO Art. 3(4), 8(2)']: Art. 3(4) twice (cmaa demo printed it too)."""
    case_id = acknowledged_case(api, who)
    assert api.post(f"/cases/{case_id}/replies", headers=who.official, json={"items": [item()]}).status_code == 200
    history = api.get(f"/cases/{case_id}/history", headers=who.official).json()["data"]
    [reply] = [event["articles"] for event in history if "JP-NO Art. 3(4), 8(2)" in event["articles"]]
    assert reply == ["JP-NO Art. 3(4), 8(2)"]


def test_an_unknown_consent_or_item_in_the_path_is_not_found(api, who):
    """Unknown consents and items were 422 invalid-input while an unknown envelope or case is 404."""
    case_id = acknowledged_case(api, who)
    assert api.post(f"/cases/{case_id}/replies", headers=who.official, json={"items": [item()]}).status_code == 200
    for path, body, field in ((f"/cases/{case_id}/consents/nope/grant", {}, "consent_id"),
                              (f"/cases/{case_id}/consents/nope/denial", {"reasons": "no"}, "consent_id"),
                              (f"/cases/{case_id}/items/nope/restrictions", {"retention_days": 30}, "item_id")):
        response = api.post(path, json=body, headers=who.official)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["type"] == "urn:cmaa:problem:not-found" and response.json()["field"] == field
