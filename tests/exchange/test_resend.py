"""An envelope the partner refused leaves our case saying so, and the step can be made again once the
cause is fixed (issue: a step refused by the partner must not read as done)."""

from __future__ import annotations

from uuid import UUID

from domain.messages import local_case_id
from tests.factories import item, jp_no_request


def _alarm(side, partner: str) -> None:
    """What the witness records when a partner presents a forked history: its envelopes are refused."""
    side.node.directory._change("raise_history_alarm", by="witness", administration=partner,
                                reason="two different trees of 5 leaves: forked", held="held", presented="presented")


def _delivery(side, case_id, kind):
    case = side.api.get(f"/cases/{case_id}", headers=side.official).json()
    return next(d for d in case["deliveries"] if d["kind"] == kind)


def test_a_refused_reply_says_so_and_is_sent_again_once_the_cause_is_fixed(nodes):
    no, jp = nodes
    case_id = no.api.post("/cases", json=jp_no_request(), headers=no.official).json()["id"]
    assert no.deliver() == 1
    theirs = str(local_case_id("JP", "NO", UUID(case_id)))
    assert jp.api.post(f"/cases/{theirs}/acknowledgement", headers=jp.official).status_code == 200
    assert jp.deliver() == 1
    _alarm(no, "JP")  # NO refuses everything from JP until its operator clears the alarm
    replied = jp.api.post(f"/cases/{theirs}/replies", headers=jp.official, json={"items": [{**item(), "item_id": "i-1"}]})
    assert replied.status_code == 200, replied.text
    assert jp.deliver() == 1, jp.node.store.exchange.for_case(theirs)
    refused = _delivery(jp, theirs, "reply")
    assert refused["status"] == "rejected" and refused["code"] == "partner-history-alarm"
    envelope_id = refused["envelope_id"]
    history = [e["event"] for e in jp.api.get(f"/cases/{theirs}/history", headers=jp.official).json()["data"]]
    assert history[-1] == "EnvelopeRejected"
    assert no.api.get(f"/cases/{case_id}", headers=no.official).json()["status"] == "acknowledged"

    # Not yet: nothing but a refused envelope can be sent again, and only by an official.
    resend = f"/cases/{theirs}/deliveries/{envelope_id}/resend"
    assert jp.api.post(resend, headers=jp.operator).status_code == 403
    unknown = jp.api.post(f"/cases/{theirs}/deliveries/no-such-envelope/resend", headers=jp.official)
    assert unknown.status_code == 404 and unknown.json()["field"] == "envelope_id"

    no.node.exchange.witness.clear("JP", "looked into: a test fork", by="no-operator")  # the cause is fixed
    again = jp.api.post(resend, headers=jp.official)
    assert again.status_code == 200, again.text
    assert next(d for d in again.json()["deliveries"] if d["envelope_id"] == envelope_id)["status"] == "resent"
    assert jp.api.post(resend, headers=jp.official).status_code == 409  # once is enough: it is on its way
    assert jp.deliver() == 1
    assert _delivery(jp, theirs, "reply")["status"] == "delivered"
    mine = no.api.get(f"/cases/{case_id}", headers=no.official).json()
    assert mine["status"] == "replied" and [i["item_id"] for i in mine["items"]] == ["i-1"]
    events = [e["event"] for e in jp.api.get(f"/cases/{theirs}/history", headers=jp.official).json()["data"]]
    assert events[-3:] == ["EnvelopeRejected", "EnvelopeResent", "EnvelopeDelivered"]
    delivered_again = jp.api.post(resend, headers=jp.official)
    assert delivered_again.status_code == 409 and "only an envelope the partner refused" in delivered_again.json()[
        "detail"]


def test_the_console_shows_the_refusal_and_sends_again(nodes):
    import re

    from tests.console.test_security import sign_in

    no, jp = nodes
    case_id = no.api.post("/cases", json=jp_no_request(), headers=no.official).json()["id"]
    assert no.deliver() == 1
    theirs = str(local_case_id("JP", "NO", UUID(case_id)))
    _alarm(no, "JP")
    assert jp.api.post(f"/cases/{theirs}/acknowledgement", headers=jp.official).status_code == 200
    assert jp.deliver() == 1
    csrf = sign_in(jp.api, jp.official)
    jp.api.post(f"/console/cases/{theirs}/purpose", data={"csrf": csrf, "purpose": "Work"})
    page = jp.api.get(f"/console/cases/{theirs}").text
    assert "NO refused it:" in page and "Send again" in page
    action = re.search(r'action="(/console/cases/[^"]+/resend)"', page).group(1)
    key = re.search(r'action="/console/cases/[^"]+/resend"><input type="hidden" name="csrf" value="[^"]+">'
                    r'<input type="hidden" name="idempotency_key" value="([^"]+)"', page).group(1)
    no.node.exchange.witness.clear("JP", "looked into", by="no-operator")
    sent = jp.api.post(action, data={"csrf": csrf, "idempotency_key": key}, follow_redirects=False)
    assert sent.status_code == 303
    assert jp.deliver() == 1
    assert no.api.get(f"/cases/{case_id}", headers=no.official).json()["status"] == "acknowledged"
    assert "Send again" not in jp.api.get(f"/console/cases/{theirs}").text
