"""Case rules that hold whichever way a step arrives: listed cases, item ids, restrictions."""

from __future__ import annotations

from uuid import UUID, uuid4

from domain.messages import local_case_id
from tests.factories import item, jp_no_request


def spontaneous(no):
    response = no.api.post("/cases/spontaneous", headers=no.official, json={
        "agreement": "jp-no-2016", "partner_administration": "JP", "addressed_to": ["jp-tanaka"],
        "relevance": "Counterfeit medicines bound for Osaka", "items": [item()]})
    assert response.status_code == 201, response.text
    return response.json()["id"]


def listed(node, **params):
    response = node.api.get("/cases", params=params, headers=node.official)
    assert response.status_code == 200, response.text
    return sorted(c["id"] for c in response.json()["data"])


def test_every_case_a_node_holds_is_listed_and_filtered(nodes):
    """A received spontaneous-assistance case (JP-NO Art. 5) is listed like every other."""
    no, jp = nodes
    given = spontaneous(no)
    asked = no.api.post("/cases", json=jp_no_request(), headers=no.official).json()["id"]
    assert no.deliver() == 2
    received_info = str(local_case_id("JP", "NO", UUID(given)))
    received_request = str(local_case_id("JP", "NO", UUID(asked)))

    assert listed(jp) == sorted([received_info, received_request])
    assert listed(jp, side="receiving") == [received_info]
    assert listed(jp, side="requested", status="received", kind="information") == [received_request]
    assert listed(jp, partner="NO", agreement="jp-no-2016") == sorted([received_info, received_request])
    assert listed(jp, partner="SE") == [] and listed(jp, status="closed") == []
    assert listed(no, side="providing") == [given] and listed(no, side="requesting") == [asked]
    bad = jp.api.get("/cases", params={"side": "sideways"}, headers=jp.official)
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


def send(sender, receiver, case_id, kind, body, official="jp-tanaka", to="no-hansen"):
    """An envelope the partner's node signs and seals, as its courier would."""
    case = receiver.node.store.load(UUID(case_id))
    payload = {"v": 1, "id": str(uuid4()), "created_at": sender.node.clock.now().isoformat(),
               "from": {"administration": sender.node.settings.administration, "official": official},
               "to": {"administration": receiver.node.settings.administration, "officials": [to]},
               "agreement": "jp-no-2016",
               "case": {"exchange_id": str(case.exchange_id), "opened_by": "NO", "reference": case.reference},
               "kind": kind, "body": body}
    return receiver.api.post("/exchange/inbox", content=sender.node.exchange.seal(payload),
                             headers={"Content-Type": "application/jose+json"})


def test_an_item_id_is_not_reused_in_a_case_at_the_api_or_the_inbox(nodes):
    """A later item with the id of an earlier one would replace its restrictions (JP-NO Art. 7, 8(2))."""
    no, jp = nodes
    mine = no.api.post("/cases", json=jp_no_request(), headers=no.official).json()["id"]
    no.deliver()
    theirs = str(local_case_id("JP", "NO", UUID(mine)))
    jp.api.post(f"/cases/{theirs}/acknowledgement", headers=jp.official)
    restricted = {**item(law_enforcement_onward=False), "item_id": "i-1"}
    assert jp.api.post(f"/cases/{theirs}/replies", headers=jp.official,
                       json={"items": [restricted], "final": False}).status_code == 200
    jp.deliver()

    # The API: the same id again, looser, is refused; so is one id twice in one reply.
    looser = {**item(law_enforcement_onward=True), "item_id": "i-1"}
    again = jp.api.post(f"/cases/{theirs}/replies", headers=jp.official, json={"items": [looser]})
    assert again.status_code == 409 and again.json()["type"] == "urn:cmaa:problem:item-id-reused", again.text
    twice = {**item(), "item_id": "i-2"}
    assert jp.api.post(f"/cases/{theirs}/replies", headers=jp.official,
                       json={"items": [twice, twice]}).status_code == 409

    # The inbox: the partner's reply reusing the id is rejected at the state step, nothing stored.
    before = no.node.store.recorder.max_notification_id()
    wire = {"item_id": "i-1", "title": "t", "content": "c", "restrictions": {"law_enforcement_onward": True}}
    rejected = send(jp, no, mine, "reply", {"items": [wire], "final": True})
    assert rejected.status_code == 409 and rejected.json()["step"] == 15, rejected.text
    assert rejected.json()["code"] == "item-id-reused"
    assert no.node.store.recorder.max_notification_id() == before
    [kept] = no.api.get(f"/cases/{mine}", headers=no.official).json()["items"]
    assert kept["restrictions"]["law_enforcement_onward"] is False

    # Items the partner leaves without an id get ids unique in the case, reply after reply.
    for final in (False, True):
        assert send(jp, no, mine, "reply", {"items": [{"title": "t", "content": "c"}], "final": final}
                    ).status_code == 200
    ids = [i["item_id"] for i in no.api.get(f"/cases/{mine}", headers=no.official).json()["items"]]
    assert len(ids) == 3 == len(set(ids))
