"""Every cell of the case state machine, on both sides, through the API and through the inbox.

For each side, each state and each step (``domain.case_states.TABLE``): the step is tried as this
node's official would make it (the API) and as the partner would send it (an envelope to the inbox).
Each attempt either reaches the table's next state, or is refused with nothing stored — the API with
a 409 problem, the inbox with a signed rejection at step 14 (wrong direction) or 15 (the case's state)
naming the state and the step.
"""

from __future__ import annotations

import uuid

import pytest

from adapters import jose
from domain.case_states import (
    ACKNOWLEDGEMENT,
    CLOSED,
    CLOSURE,
    CONSULTATION,
    FINAL_REPLY,
    FORWARDING,
    INTERIM_REPLY,
    OWN,
    PARTNER,
    POSTPONEMENT,
    PROVIDING,
    RECEIVING,
    REFUSAL,
    REQUESTED,
    REQUESTING,
    STATES,
    STEPS,
    TABLE,
    WRITTEN_CONFIRMATION,
    label,
)
from domain.messages import local_case_id
from tests.factories import item, jp_no_request

# How this node's official makes each step (path, body); how the partner sends it (kind, body).
API = {
    ACKNOWLEDGEMENT: ("acknowledgement", None),
    FORWARDING: ("forwarding", {"authority": "Osaka District Public Prosecutors Office", "reason": "competent"}),
    INTERIM_REPLY: ("replies", {"items": [item()], "final": False}),
    FINAL_REPLY: ("replies", {"items": [item()]}),
    REFUSAL: ("refusal", {"grounds": ["public_policy"], "reasons": "Contrary to public policy"}),
    POSTPONEMENT: ("postponement", {"reasons": "Interferes with an ongoing investigation"}),
    CONSULTATION: ("consultations", {"subject": "postponement_terms", "message": "Could we agree terms?"}),
    WRITTEN_CONFIRMATION: ("written-confirmation", {"reference": "LETTER-1"}),
    CLOSURE: ("closure", {"reason": "done"}),
}
WIRE_ITEM = {"title": "Export declaration", "content": "Declared value JPY 1,200,000"}
INBOX = {
    ACKNOWLEDGEMENT: ("acknowledgement", {}),
    FORWARDING: ("forwarding", {"authority": "Osaka District Public Prosecutors Office", "reason": "competent"}),
    INTERIM_REPLY: ("reply", {"items": [WIRE_ITEM], "final": False}),
    FINAL_REPLY: ("reply", {"items": [WIRE_ITEM], "final": True}),
    REFUSAL: ("refusal", {"grounds": ["public_policy"], "reasons": "Contrary to public policy"}),
    POSTPONEMENT: ("postponement", {"reasons": "Interferes with an ongoing investigation"}),
    CONSULTATION: ("consultation", {"subject": "postponement_terms", "message": "Could we agree terms?"}),
    WRITTEN_CONFIRMATION: ("written_confirmation", {"reference": "LETTER-1"}),
    # A closure concerns the holder's own case only: no envelope carries it.
}


class Cases:
    """Builds a case of each side in each state, in process, on the two nodes of ``nodes``.

    NO holds the requesting and providing sides, JP the requested and receiving sides.
    """

    def __init__(self, no, jp):
        self.no, self.jp = no, jp

    def node(self, side):
        return self.no if side in (REQUESTING, PROVIDING) else self.jp

    def partner(self, side):
        return self.jp if side in (REQUESTING, PROVIDING) else self.no

    def build(self, side: str, state: str) -> str:
        if side == REQUESTING:
            case_id = self._ok(self.no.api.post("/cases/oral", json=jp_no_request(), headers=self.no.official))["id"]
            path = {"acknowledged": [ACKNOWLEDGEMENT], "postponed": [POSTPONEMENT], "in_consultation": [CONSULTATION],
                    "replying": [INTERIM_REPLY], "replied": [FINAL_REPLY], "refused": [REFUSAL],
                    "forwarded": [FORWARDING]}.get(state, [])
            for step in path:
                assert self.inbox(side, case_id, step).status_code == 200
        elif side == REQUESTED:
            theirs = self._ok(self.no.api.post("/cases/oral", json=jp_no_request(), headers=self.no.official))["id"]
            self.no.deliver()
            case_id = str(local_case_id("JP", "NO", uuid.UUID(theirs)))
            path = {"acknowledged": [ACKNOWLEDGEMENT], "postponed": [ACKNOWLEDGEMENT, POSTPONEMENT],
                    "in_consultation": [ACKNOWLEDGEMENT, CONSULTATION], "replying": [ACKNOWLEDGEMENT, INTERIM_REPLY],
                    "replied": [ACKNOWLEDGEMENT, FINAL_REPLY], "refused": [REFUSAL],
                    "forwarded": [ACKNOWLEDGEMENT, FORWARDING], CLOSED: [REFUSAL]}.get(state, [])
            for step in path:
                self._ok(self.api(side, case_id, step))
        else:
            theirs = self._ok(self.no.api.post("/cases/spontaneous", headers=self.no.official, json={
                "agreement": "jp-no-2016", "partner_administration": "JP", "addressed_to": ["jp-tanaka"],
                "relevance": "Counterfeit medicines bound for Osaka", "items": [item()]}))["id"]
            self.no.deliver()
            case_id = theirs if side == PROVIDING else str(local_case_id("JP", "NO", uuid.UUID(theirs)))
        if state == CLOSED:
            self._ok(self.api(side, case_id, CLOSURE))
        assert self.status(side, case_id) == state
        return case_id

    @staticmethod
    def _ok(response) -> dict:
        assert response.status_code in (200, 201), response.text
        return response.json()

    def api(self, side: str, case_id: str, step: str):
        path, body = API[step]
        node = self.node(side)
        return node.api.post(f"/cases/{case_id}/{path}", headers=node.official, json=body)

    def inbox(self, side: str, case_id: str, step: str):
        """The partner's node sends ``step`` on the case, sealed and signed as its courier would."""
        kind, body = INBOX[step]
        sender, receiver = self.partner(side), self.node(side)
        case = receiver.node.store.load(uuid.UUID(case_id))
        payload = {"v": 1, "id": str(uuid.uuid4()), "created_at": sender.node.clock.now().isoformat(),
                   "from": {"administration": sender.node.settings.administration,
                            "official": sender.official_id},
                   "to": {"administration": receiver.node.settings.administration,
                          "officials": [receiver.official_id]},
                   "agreement": "jp-no-2016",
                   "case": {"exchange_id": str(case.exchange_id), "opened_by": "NO",
                            "reference": case.reference},
                   "kind": kind, "body": body}
        raw = sender.node.exchange.seal(payload)
        return receiver.api.post("/exchange/inbox", content=raw, headers={"Content-Type": "application/jose+json"})

    def status(self, side: str, case_id: str) -> str:
        node = self.node(side)
        return node.api.get(f"/cases/{case_id}", headers=node.official).json()["status"]

    def stored(self, side: str) -> int:
        return self.node(side).node.store.recorder.max_notification_id() or 0


def cells():
    for side, states in STATES.items():
        for state in states:
            yield side, state


@pytest.fixture
def cases(nodes):
    no, jp = nodes
    no.official_id, jp.official_id = "no-hansen", "jp-tanaka"
    return Cases(no, jp)


def test_every_step_in_every_state_through_the_api_and_the_inbox(cases):
    for side, state in cells():
        check_cell_row(cases, side, state)


def check_cell_row(cases, side: str, state: str) -> None:
    rules = TABLE[side]
    case_id = cases.build(side, state)
    # First every refusal, on this one case: each must leave the store as it was.
    for step in STEPS:
        rule = rules.get(step)
        allowed = rule is not None and state in rule.moves
        for channel in (OWN, PARTNER):
            if channel == PARTNER and step not in INBOX:
                continue
            if allowed and rule.by == channel:
                continue
            before = cases.stored(side)
            where = f"{side}/{state}/{step} by {channel}"
            if channel == OWN:
                response = cases.api(side, case_id, step)
                assert response.status_code == 409, f"{where}: {response.status_code} {response.text}"
                reason = response.json()["detail"]
            else:
                response = cases.inbox(side, case_id, step)
                assert response.status_code in (409, 422), f"{where}: {response.status_code} {response.text}"
                problem = response.json()
                assert problem["step"] in (14, 15) and problem["signed_rejection"], where
                reason = jose.unverified_header_and_payload(problem["signed_rejection"])[1]["reason"]
            assert cases.stored(side) == before, f"{where}: a refused step stored something"
            if rule is not None and rule.by == channel:
                # Refused by the table: the answer names the state and the step.
                assert state in reason and label(step) in reason, f"{where}: {reason}"
        assert cases.status(side, case_id) == state
    # Then every allowed cell, each on a fresh case in this state.
    for step, rule in rules.items():
        if state not in rule.moves:
            continue
        fresh = cases.build(side, state)
        if rule.by == OWN or step not in INBOX:
            response = cases.api(side, fresh, step)
        else:
            response = cases.inbox(side, fresh, step)
        assert response.status_code == 200, f"{side}/{state}/{step}: {response.text}"
        assert cases.status(side, fresh) == rule.moves[state], f"{side}/{state}/{step}"


def test_the_table_names_every_state_of_each_side_and_only_those():
    for side, steps in TABLE.items():
        for step, rule in steps.items():
            assert set(rule.moves) <= set(STATES[side]) and set(rule.moves.values()) <= set(STATES[side]), step
    assert set(TABLE) == {REQUESTING, REQUESTED, PROVIDING, RECEIVING}
