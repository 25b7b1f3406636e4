"""Treaty rules refused through the API, each naming its article."""

from __future__ import annotations

import pytest

from tests.factories import jp_no_request


def refused(api, who, body, path="/cases"):
    response = api.post(path, json=body, headers=who.official)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


@pytest.mark.parametrize("field,article", [
    ("action_requested", "JP-NO Art. 11(4)(b)"),
    ("reason", "JP-NO Art. 11(4)(b)"),
    ("case_description", "JP-NO Art. 11(4)(c)"),
    ("laws_involved", "JP-NO Art. 11(4)(c)"),
    ("targets", "JP-NO Art. 11(4)(d)"),
])
def test_a_request_lacking_a_required_element_is_refused_citing_art_11_4(api, who, field, article):
    body = jp_no_request()
    body["content"][field] = [] if field in ("laws_involved", "targets") else ""
    problem = refused(api, who, body)
    assert problem["type"] == "urn:cmaa:problem:request-incomplete"
    assert problem["field"] == field
    assert problem["article"] == article


def test_every_missing_element_is_listed_at_once(api, who):
    body = jp_no_request()
    body["content"] = {"action_requested": "Check"}
    problem = refused(api, who, body)
    assert [e["field"] for e in problem["errors"]] == ["reason", "case_description", "laws_involved", "targets"]


def test_a_request_not_in_english_is_refused_under_jp_no(api, who):
    problem = refused(api, who, jp_no_request(language="no"))
    assert problem["article"] == "JP-NO Art. 11(2)"
    assert problem["field"] == "language"


def test_recovery_of_a_claim_is_not_a_kind_under_jp_no(api, who):
    problem = refused(api, who, jp_no_request(kind="recovery_of_claim"))
    assert problem["article"] == "JP-NO Art. 2(1)"
    assert problem["field"] == "kind"


def test_a_partner_not_registered_under_the_agreement_is_refused(api, who):
    response = api.post("/cases", json=jp_no_request(partner_administration="SE"), headers=who.official)
    assert response.status_code == 404
    assert response.json()["field"] == "partner_administration"


def test_addressing_someone_who_is_not_a_designated_official_is_refused(api, who):
    response = api.post("/cases", json=jp_no_request(addressed_to=["jp-unknown"]), headers=who.official)
    assert response.status_code == 403
    assert response.json()["article"] == "JP-NO Art. 11(1)"


def test_no_new_request_after_termination_but_ongoing_assistance_completes(api, who):
    ongoing = api.post("/cases/received", headers=who.official,
                       json={**jp_no_request(), "addressed_to": [], "channel": "written"}).json()["id"]
    period = api.put("/agreements/jp-no-2016/period", headers=who.operator,
                     json={"termination_notified_on": "2026-08-01"})
    assert period.status_code == 200
    assert period.json()["terminated_from"] == "2026-11-01"  # JP-NO Art. 19(1): three months

    problem = refused(api, who, jp_no_request())
    assert problem["type"] == "urn:cmaa:problem:agreement-not-in-force"
    assert problem["article"] == "JP-NO Art. 19(1)"
    # JP-NO Art. 19(2): ongoing assistance is completed.
    assert api.post(f"/cases/{ongoing}/acknowledgement", headers=who.official).status_code == 200


def test_termination_notified_takes_effect_only_after_the_notice_period(api, who):
    api.put("/agreements/jp-no-2016/period", headers=who.operator, json={"termination_notified_on": "2026-10-01"})
    assert api.post("/cases", json=jp_no_request(), headers=who.official).status_code == 201


def test_no_request_before_entry_into_force(api, who):
    api.put("/agreements/jp-no-2016/period", headers=who.operator, json={"in_force_from": "2027-01-01"})
    problem = refused(api, who, jp_no_request())
    assert problem["article"] == "JP-NO Art. 18"


def test_an_unknown_agreement_is_a_clear_error(api, who):
    response = api.post("/cases", json=jp_no_request(agreement="madrid-2099"), headers=who.official)
    assert response.status_code == 404
    assert response.json()["field"] == "agreement"


def test_agreements_are_listed_with_their_periods(api, who):
    data = api.get("/agreements", headers=who.official).json()["data"]
    assert {a["id"] for a in data} == {"jp-no-2016", "nairobi-1977", "nordic-1981"}
    nordic = next(a for a in data if a["id"] == "nordic-1981")
    assert nordic["in_force_from"] == "1982-08-26" and nordic["in_force_today"] is True


def test_nordic_recovery_request_through_the_api_refused_below_the_minimum(api, who, node):
    node.directory.register_partner(by="test", administration="SE", name="Tullverket", agreements=["nordic-1981"])
    claim = {"amount": "900.00", "currency": "NOK", "enforcement_title": "Vedtak 2026/17", "enforceable": True,
             "limitation_date": "2029-01-01", "not_recoverable_at_home": True}
    body = jp_no_request(agreement="nordic-1981", partner_administration="SE", kind="recovery_of_claim",
                         language="no", addressed_to=[], recovery=claim)
    problem = refused(api, who, body)
    assert (problem["article"], problem["field"]) == ("Nordic Art. 10(2)", "recovery.amount")

    body["content"]["recovery"]["amount"] = "25000.00"
    made = api.post("/cases", json=body, headers=who.official)
    assert made.status_code == 201, made.text
    assert made.json()["content"]["recovery"]["amount"] == "25000.00"


def test_a_termination_in_effect_cannot_be_withdrawn(api, who, clock):
    """JP-NO Art. 19(1): a notified termination takes effect after three months; after that it stands."""
    notified = {"termination_notified_on": "2026-10-01"}
    assert api.put("/agreements/jp-no-2016/period", headers=who.operator, json=notified).status_code == 200
    # Before it takes effect (2027-01-01) the notice may still be withdrawn...
    assert api.put("/agreements/jp-no-2016/period", headers=who.operator,
                   json={"termination_notified_on": None}).status_code == 200
    assert api.put("/agreements/jp-no-2016/period", headers=who.operator, json=notified).status_code == 200
    clock.advance(days=45)  # 2027-01-06: in effect
    for change in ({"termination_notified_on": None}, {"termination_notified_on": "2026-12-01"}):
        response = api.put("/agreements/jp-no-2016/period", headers=who.operator, json=change)
        assert response.status_code == 409, response.text
        assert response.json()["article"] == "JP-NO Art. 19(1)"
    [jp_no] = [a for a in api.get("/agreements", headers=who.operator).json()["data"] if a["id"] == "jp-no-2016"]
    assert jp_no["terminated_from"] == "2027-01-01"


def test_the_nordic_recovery_minimum_is_deployment_data_set_by_the_operator(api, who, node):
    """Nordic Art. 10(2) leaves the minimum to the guidelines under Art. 13: the operator sets it (a directory
    event with who and when); the rule applies it at once; nothing but a declared parameter, well formed."""
    node.directory.register_partner(by="test", administration="SE", name="Tullverket", agreements=["nordic-1981"])
    claim = {"amount": "1800.00", "currency": "NOK", "enforcement_title": "Vedtak 2026/17", "enforceable": True,
             "limitation_date": "2029-01-01", "not_recoverable_at_home": True}
    body = jp_no_request(agreement="nordic-1981", partner_administration="SE", kind="recovery_of_claim",
                         language="no", addressed_to=[], recovery=claim)
    assert api.post("/cases", json=body, headers=who.official).status_code == 201  # above the default 1500
    path = "/agreements/nordic-1981/parameters/recovery.minimum"
    minimum = {"NOK": "2000", "SEK": "2000", "DKK": "1500", "EUR": "200", "ISK": "30000"}
    assert api.put(path, headers=who.official, json={"value": minimum}).status_code == 403
    for bad, field in (({"value": {"NOK": "-5"}}, "value.NOK"), ({"value": {"nok": "5"}}, "value.nok"),
                       ({"value": "2000"}, "value"), ({"value": {"NOK": "lots"}}, "value.NOK")):
        refused_change = api.put(path, headers=who.operator, json=bad)
        assert refused_change.status_code == 422 and refused_change.json()["field"] == field, refused_change.text
        assert refused_change.json()["article"] == "Nordic Art. 10(2)"
    unknown = api.put("/agreements/nordic-1981/parameters/recovery.article", headers=who.operator,
                      json={"value": "Art. 1"})
    assert unknown.status_code == 404 and "recovery.minimum" in unknown.json()["detail"]
    assert api.put("/agreements/jp-no-2016/parameters/recovery.minimum", headers=who.operator,
                   json={"value": minimum}).status_code == 404
    answer = api.put(path, headers=who.operator, json={"value": minimum})
    assert answer.status_code == 200, answer.text
    recorded = answer.json()["parameters"]["recovery.minimum"]
    assert recorded["value"]["NOK"] == "2000" and recorded["by"] and recorded["article"] == "Nordic Art. 10(2)"
    assert answer.json()["profile"]["recovery"]["minimum"]["NOK"] == "2000"
    problem = refused(api, who, body)  # 1800 no longer exceeds the minimum
    assert (problem["article"], problem["field"]) == ("Nordic Art. 10(2)", "recovery.amount")
    assert "2000 NOK" in problem["detail"]
    events = [e for e in node.store.recorder.select_notifications(1, 10_000)
              if e.topic.endswith("Directory.AgreementParameterSet")]
    assert len(events) == 1
