"""Each event that rests on an article cites the one whose text says it, on both nodes.

A case is worked across two nodes through consent (for a disclosure and for criminal proceedings),
disclosures on each basis, an advance notice and a restriction notice; then every event of both
histories is checked against the article the JP-NO profile gives for that kind of event.
"""

from __future__ import annotations

from tests.exchange.test_consent import POLICE, ask_consent, replied_case


def history(side, case_id):
    return side.api.get(f"/cases/{case_id}/history", headers=side.official).json()["data"]


def expected_articles(profile, event: dict) -> list[str] | None:
    """The article(s) the profile gives for this event, from its data alone (None: not checked here)."""
    rules = profile.raw["disclosure"]
    cite = profile.cite
    consent = cite(rules["consent_article"])
    criminal = cite(rules["criminal_proceedings"]["article"])
    data = event["data"]
    name = event["event"]
    if name in ("ConsentRequested", "ConsentRequestReceived"):
        return [criminal if data["action"] == "criminal_proceedings" else consent]
    if name in ("AdvanceNoticeGiven",):
        return [cite(rules["legal_obligation"]["article"])]
    if name in ("UseRestrictionsTightened", "UseRestrictionsNotified"):
        return [cite(rules["restriction_notice_article"])]
    if name in ("InformationDisclosed", "InformationUsed", "DisclosureReported"):
        request = data.get("request") or data.get("notice") or {}
        if name == "DisclosureReported" and data["kind"] == "advance_notice":
            return [cite(rules["legal_obligation"]["article"])]
        basis, action = request["basis"], request["action"]
        if basis == "consent":
            return [criminal if action == "criminal_proceedings" else consent]
        return [cite(rules[basis]["article"])]
    return None


def test_every_event_cites_the_article_of_what_it_records(nodes):
    no, jp = nodes
    profile = no.node.agreements.get("jp-no-2016")
    case_id, theirs, item_id = replied_case(no, jp, law_enforcement_onward=True)

    # Consent for criminal proceedings (JP-NO Art. 10(2)), granted; for a disclosure (Art. 7(2)), denied.
    criminal = ask_consent(no, case_id, item_id, action="criminal_proceedings", recipient_authority=None,
                           supporting_information="Trial of the importer, Oslo District Court")
    other = ask_consent(no, case_id, item_id)
    no.deliver()
    assert jp.api.post(f"/cases/{theirs}/consents/{criminal}/grant", headers=jp.official, json={}).status_code == 200
    assert jp.api.post(f"/cases/{theirs}/consents/{other}/denial", headers=jp.official,
                       json={"reasons": "Not to that authority"}).status_code == 200
    jp.deliver()

    def disclose(**body):
        response = no.api.post(f"/cases/{case_id}/disclosures", headers=no.official,
                               json={"items": [item_id], "purpose": "customs_law_application"} | body)
        assert response.status_code == 201, response.text

    disclose(action="criminal_proceedings", basis="consent", consent_id=criminal)
    disclose(basis="law_enforcement", recipient_authority=POLICE, recipient_kind="law_enforcement")
    notice = no.api.post(f"/cases/{case_id}/advance-notices", headers=no.official, json={
        "items": [item_id], "recipient_authority": "Storting inquiry", "legal_provision": "Act s. 5"})
    assert notice.status_code == 201, notice.text
    notice_id = next(iter(notice.json()["notices"]))
    no.deliver()  # the notice reaches Japan before the disclosure (JP-NO Art. 14(1))
    disclose(basis="legal_obligation", recipient_authority="Storting inquiry", legal_provision="Act s. 5",
             advance_notice_id=notice_id)
    no.deliver()
    assert jp.api.post(f"/cases/{theirs}/items/{item_id}/restrictions", headers=jp.official,
                       json={"retention_days": 30}).status_code == 200
    jp.deliver()

    checked: dict[str, int] = {}
    for side, case in ((no, case_id), (jp, theirs)):
        for event in history(side, case):
            expected = expected_articles(profile, event)
            if expected is not None:
                assert event["articles"] == expected, (event["event"], event["articles"], expected)
                checked[event["event"]] = checked.get(event["event"], 0) + 1
            if event["event"] in ("ConsentGranted", "ConsentGrantReceived", "ConsentDenied",
                                  "ConsentDenialReceived"):
                consent_id = event["data"]["consent_id"]
                want = "JP-NO Art. 10(2)" if consent_id == criminal else "JP-NO Art. 7(2)"
                assert event["articles"] == [want], (event["event"], event["articles"])
                checked[event["event"]] = checked.get(event["event"], 0) + 1
    assert set(checked) >= {"ConsentRequested", "ConsentRequestReceived", "ConsentGranted", "ConsentGrantReceived",
                            "ConsentDenied", "ConsentDenialReceived", "AdvanceNoticeGiven", "InformationDisclosed",
                            "InformationUsed", "DisclosureReported", "UseRestrictionsTightened",
                            "UseRestrictionsNotified"}, checked
    # The two the texts pin down: criminal proceedings under Art. 10(2), law enforcement under Art. 7(3).
    reported = {(e["data"]["notice"].get("basis"), tuple(e["articles"])) for e in history(jp, theirs)
                if e["event"] == "DisclosureReported"}
    assert ("law_enforcement", ("JP-NO Art. 7(3)",)) in reported
    assert ("consent", ("JP-NO Art. 10(2)",)) in reported
