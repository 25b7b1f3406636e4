"""Consent, notices and disclosure across two nodes: the treaty enforced, both sides see it."""

from __future__ import annotations

import uuid

from tests.exchange.test_hostile_input import deliver, seal
from tests.exchange.test_two_nodes import jp_case_id
from tests.factories import item, jp_no_request

POLICE = "Oslo Police District"


def replied_case(no, jp, **restrictions):
    """NO asks, JP replies with one restricted item; returns (NO case id, JP case id, item id)."""
    case_id = no.api.post("/cases", json=jp_no_request(), headers=no.official).json()["id"]
    no.deliver()
    theirs = jp_case_id(case_id)
    jp.api.post(f"/cases/{theirs}/acknowledgement", headers=jp.official)
    jp.api.post(f"/cases/{theirs}/replies", headers=jp.official, json={"items": [item(**restrictions)]})
    jp.deliver()
    mine = no.api.get(f"/cases/{case_id}", headers=no.official).json()
    assert mine["status"] == "replied"
    return case_id, theirs, mine["items"][0]["item_id"]


def ask_consent(no, case_id, item_id, **overrides):
    body = {"items": [item_id], "action": "disclosure", "recipient_authority": POLICE,
            "purpose": "customs_law_application"} | overrides
    response = no.api.post(f"/cases/{case_id}/consent-requests", headers=no.official, json=body)
    assert response.status_code == 201, response.text
    [consent_id] = [k for k, v in response.json()["consents"].items() if v["status"] == "requested"][-1:]
    return consent_id


def disclose(no, case_id, item_id, **overrides):
    body = {"items": [item_id], "action": "disclosure", "recipient_authority": POLICE,
            "recipient_kind": "other_authority", "purpose": "customs_law_application", "basis": "consent"} | overrides
    return no.api.post(f"/cases/{case_id}/disclosures", headers=no.official, json=body)


def events(side, case_id):
    return [e["event"] for e in side.api.get(f"/cases/{case_id}/history", headers=side.official).json()["data"]]


def test_request_restricted_reply_consent_granted_with_conditions_then_disclosure_accepted(nodes):
    no, jp = nodes
    case_id, theirs, item_id = replied_case(no, jp)
    consent_id = ask_consent(no, case_id, item_id)
    no.deliver()
    assert jp.api.get(f"/cases/{theirs}", headers=jp.official).json()["consents"][consent_id]["status"] == "requested"

    granted = jp.api.post(f"/cases/{theirs}/consents/{consent_id}/grant", headers=jp.official,
                          json={"conditions": ["Only the summary"], "expires_on": "2027-06-30"})
    assert granted.status_code == 200, granted.text
    jp.deliver()
    consent = no.api.get(f"/cases/{case_id}", headers=no.official).json()["consents"][consent_id]
    assert consent["status"] == "granted" and consent["conditions"] == ["Only the summary"]

    accepted = disclose(no, case_id, item_id, consent_id=consent_id)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["disclosures"][0]["articles"] == ["JP-NO Art. 7(2)"]
    no.deliver()
    # The provider sees the disclosure made under its consent.
    notices = jp.api.get(f"/cases/{theirs}", headers=jp.official).json()["notices"]
    assert [n["kind"] for n in notices.values()] == ["disclosure_notice"]
    assert "DisclosureReported" in events(jp, theirs)


def test_consent_denied_then_disclosure_refused_and_the_attempt_recorded(nodes):
    no, jp = nodes
    case_id, theirs, item_id = replied_case(no, jp)
    consent_id = ask_consent(no, case_id, item_id)
    no.deliver()
    jp.api.post(f"/cases/{theirs}/consents/{consent_id}/denial", headers=jp.official,
                json={"reasons": "Ongoing investigation in Japan"})
    jp.deliver()

    refused = disclose(no, case_id, item_id, consent_id=consent_id)

    assert refused.status_code == 422
    problem = refused.json()
    assert problem["type"] == "urn:cmaa:problem:disclosure-refused"
    assert problem["article"] == "JP-NO Art. 7(2)" and "denied" in problem["detail"]
    mine = no.api.get(f"/cases/{case_id}", headers=no.official).json()
    assert mine["disclosures"] == [] and mine["refused_attempts"][0]["article"] == "JP-NO Art. 7(2)"
    assert events(no, case_id)[-1] == "DisclosureRefused"


def test_disclosure_without_any_consent_is_refused(nodes):
    no, jp = nodes
    case_id, _, item_id = replied_case(no, jp)
    assert disclose(no, case_id, item_id).json()["article"] == "JP-NO Art. 7(2)"


def test_criminal_proceedings_need_art_10_consent(nodes):
    no, jp = nodes
    case_id, theirs, item_id = replied_case(no, jp)
    refused = disclose(no, case_id, item_id, action="criminal_proceedings", basis="within_purpose",
                       recipient_authority=None, recipient_kind=None)
    assert refused.json()["article"] == "JP-NO Art. 10(2)"
    consent_id = ask_consent(no, case_id, item_id, action="criminal_proceedings", recipient_authority=None,
                             supporting_information="Indictment 2026/441 before Oslo District Court")
    no.deliver()
    assert jp.api.get(f"/cases/{theirs}/history", headers=jp.official).json()["data"][-1]["articles"] == \
        ["JP-NO Art. 10(2)"]
    jp.api.post(f"/cases/{theirs}/consents/{consent_id}/grant", headers=jp.official, json={})
    jp.deliver()
    used = disclose(no, case_id, item_id, action="criminal_proceedings", consent_id=consent_id,
                    recipient_authority=None, recipient_kind=None)
    assert used.status_code == 201, used.text
    assert events(no, case_id)[-1] == "InformationUsed"


def test_law_enforcement_path_then_the_provider_notifies_otherwise(nodes):
    no, jp = nodes
    case_id, theirs, item_id = replied_case(no, jp)
    police = dict(basis="law_enforcement", recipient_kind="law_enforcement")
    assert disclose(no, case_id, item_id, **police).status_code == 201
    no.deliver()
    assert [n["basis"] for n in jp.api.get(f"/cases/{theirs}", headers=jp.official).json()["notices"].values()] \
        == ["law_enforcement"]

    tightened = jp.api.post(f"/cases/{theirs}/items/{item_id}/restrictions", headers=jp.official,
                            json={"law_enforcement_onward": False})
    assert tightened.status_code == 200, tightened.text
    jp.deliver()
    assert no.api.get(f"/cases/{case_id}", headers=no.official).json()["items"][0]["restrictions"][
        "law_enforcement_onward"] is False
    refused = disclose(no, case_id, item_id, **police)
    assert refused.status_code == 422 and refused.json()["article"] == "JP-NO Art. 7(3)"
    assert "UseRestrictionsNotified" in events(no, case_id)


def test_the_provider_cannot_loosen_restrictions(nodes):
    no, jp = nodes
    _, theirs, item_id = replied_case(no, jp, law_enforcement_onward=False)
    response = jp.api.post(f"/cases/{theirs}/items/{item_id}/restrictions", headers=jp.official,
                           json={"law_enforcement_onward": True})
    assert response.status_code == 422


def test_mandated_disclosure_needs_advance_notice_which_reaches_the_provider_first(nodes):
    no, jp = nodes
    case_id, theirs, item_id = replied_case(no, jp)
    mandated = dict(basis="legal_obligation", legal_provision="Offentleglova s. 3")
    refused = disclose(no, case_id, item_id, **mandated)
    assert refused.json()["article"] == "JP-NO Art. 14(1)"

    noticed = no.api.post(f"/cases/{case_id}/advance-notices", headers=no.official, json={
        "items": [item_id], "recipient_authority": POLICE, "legal_provision": "Offentleglova s. 3"})
    notice_id = next(iter(noticed.json()["notices"]))
    # JP-NO Art. 14(1): "advance" means before: while the notice is in transit the disclosure waits.
    before = no.node.store.recorder.max_notification_id()
    waiting = disclose(no, case_id, item_id, advance_notice_id=notice_id, **mandated)
    assert waiting.status_code == 409, waiting.text
    assert waiting.json()["article"] == "JP-NO Art. 14(1)" and "in transit" in waiting.json()["detail"]
    assert no.node.store.recorder.max_notification_id() == before
    no.deliver()
    assert jp.api.get(f"/cases/{theirs}", headers=jp.official).json()["notices"][notice_id]["kind"] == "advance_notice"
    assert disclose(no, case_id, item_id, advance_notice_id=notice_id, **mandated).status_code == 201


def test_mandated_disclosure_where_notice_was_impossible_is_reported_immediately_after(nodes):
    no, jp = nodes
    case_id, theirs, item_id = replied_case(no, jp)
    made = disclose(no, case_id, item_id, basis="legal_obligation", legal_provision="Court order 2026/9",
                    notice_impossible_reason="Order served with immediate effect")
    assert made.status_code == 201
    no.deliver()
    [notice] = jp.api.get(f"/cases/{theirs}", headers=jp.official).json()["notices"].values()
    assert notice["notice_impossible_reason"] == "Order served with immediate effect"


def test_rules_still_bind_after_the_agreement_terminates(nodes):
    no, jp = nodes
    case_id, theirs, item_id = replied_case(no, jp)
    no.api.put("/agreements/jp-no-2016/period", headers=no.operator, json={"termination_notified_on": "2026-01-01"})
    assert disclose(no, case_id, item_id).json()["article"] == "JP-NO Art. 7(2)"
    consent_id = ask_consent(no, case_id, item_id)
    no.deliver()
    jp.api.post(f"/cases/{theirs}/consents/{consent_id}/grant", headers=jp.official, json={})
    jp.deliver()
    assert disclose(no, case_id, item_id, consent_id=consent_id).status_code == 201


def test_a_consent_grant_from_someone_not_designated_by_the_provider_is_rejected(nodes, clock):
    no, jp = nodes
    case_id, theirs, item_id = replied_case(no, jp)
    consent_id = ask_consent(no, case_id, item_id)
    no.deliver()
    from joserfc.jwk import OKPKey

    outsider = OKPKey.generate_key("Ed25519", parameters={"kid": "JP.jp-outsider.sig.1"})
    grant = _grant_payload(no, jp, case_id, consent_id, sender="jp-outsider")
    response = deliver(no, seal(jp, no, grant, key=outsider, recipients=_no_enc(no)))
    assert response.status_code == 403 and response.json()["step"] == 5
    assert no.api.get(f"/cases/{case_id}", headers=no.official).json()["consents"][consent_id]["status"] == "requested"


def test_a_consent_grant_replayed_into_another_case_is_rejected(nodes):
    no, jp = nodes
    first, first_theirs, item_id = replied_case(no, jp)
    second, _, _ = replied_case(no, jp)
    consent_id = ask_consent(no, first, item_id)
    no.deliver()
    jp.api.post(f"/cases/{first_theirs}/consents/{consent_id}/grant", headers=jp.official, json={})
    jp.deliver()
    # A designated official's valid signature, but on the other case: no such consent was asked there.
    moved = _grant_payload(no, jp, second, consent_id)
    response = deliver(no, seal(jp, no, moved, key=_jp_sig(jp), recipients=_no_enc(no)))
    assert response.status_code == 409 and response.json()["step"] == 15
    assert no.api.get(f"/cases/{second}", headers=no.official).json()["consents"] == {}


def _grant_payload(no, jp, case_id, consent_id, sender="jp-tanaka"):
    now = jp.node.clock.now().isoformat()
    return {"v": 1, "id": str(uuid.uuid4()), "created_at": now,
            "from": {"administration": "JP", "official": sender},
            "to": {"administration": "NO", "officials": ["no-hansen"]}, "agreement": "jp-no-2016",
            "case": {"exchange_id": case_id, "opened_by": "NO", "reference": "NO-REF"},
            "kind": "consent_grant", "body": {"consent_id": consent_id, "conditions": [], "expires_on": None}}


def _jp_sig(jp):
    directory = jp.node.directory.directory()
    return jp.node.exchange.keystore.private(directory.current_key("jp-tanaka", "sig", jp.node.clock.now()))


def _no_enc(no):
    directory = no.node.directory.directory()
    kid = directory.current_key("no-hansen", "enc", no.node.clock.now())
    return {kid: directory.keys[kid]["jwk"]}



def test_a_grant_that_would_already_have_expired_is_refused(nodes):
    no, jp = nodes
    case_id, theirs, item_id = replied_case(no, jp)
    consent_id = ask_consent(no, case_id, item_id)
    no.deliver()
    past = jp.api.post(f"/cases/{theirs}/consents/{consent_id}/grant", headers=jp.official,
                       json={"expires_on": "2026-11-21"})  # the day before the clock's today
    assert past.status_code == 422, past.text
    assert (past.json()["field"], past.json()["article"]) == ("expires_on", "JP-NO Art. 7(2)")
    assert jp.api.get(f"/cases/{theirs}", headers=jp.official).json()["consents"][consent_id]["status"] == "requested"
    today = jp.api.post(f"/cases/{theirs}/consents/{consent_id}/grant", headers=jp.official,
                        json={"expires_on": "2026-11-22"})
    assert today.status_code == 200, today.text


def test_a_grant_the_partner_rejected_shows_so_and_can_be_made_again(nodes):
    """An official designated after the partner imported our directory is unknown there: its grant is
    rejected. Our case says so (the partner's signed rejection and reason) and the consent is open again;
    once the partner has our current directory the grant is made again and reaches it."""
    from tests.exchange_helpers import bearer, introduce

    no, jp = nodes
    case_id, theirs, item_id = replied_case(no, jp)
    consent_id = ask_consent(no, case_id, item_id)
    no.deliver()
    jp.node.designate_official(by="test", official_id="jp-sato", name="Sato", roles=["official"])
    sato = bearer(jp.node.directory.issue_credential(by="test", official_id="jp-sato"))

    grant = {"conditions": ["Only the summary"]}
    assert jp.api.post(f"/cases/{theirs}/consents/{consent_id}/grant", headers=sato, json=grant).status_code == 200
    jp.deliver()
    mine = jp.api.get(f"/cases/{theirs}", headers=jp.official).json()
    [rejected] = [d for d in mine["deliveries"] if d["kind"] == "consent_grant"]
    assert rejected["status"] == "rejected" and rejected["reason"]
    consent = mine["consents"][consent_id]
    assert consent["status"] == "requested"
    assert consent["returned"][0]["answer"] == "granted" and consent["returned"][0]["code"] == rejected["code"]
    assert "ConsentAnswerReturned" in events(jp, theirs)
    assert no.api.get(f"/cases/{case_id}", headers=no.official).json()["consents"][consent_id]["status"] == "requested"

    jp.node.clock.advance(minutes=1)
    introduce(no.node, jp.node)  # Norway imports Japan's current directory
    assert jp.api.post(f"/cases/{theirs}/consents/{consent_id}/grant", headers=sato, json=grant).status_code == 200
    jp.deliver()
    assert jp.api.get(f"/cases/{theirs}", headers=jp.official).json()["consents"][consent_id]["status"] == "granted"
    assert no.api.get(f"/cases/{case_id}", headers=no.official).json()["consents"][consent_id]["status"] == "granted"
