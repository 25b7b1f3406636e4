"""What travels between nodes: the message kinds and which side sends each.

A request opens the requested side's case; spontaneous assistance opens the
receiving side's; every other kind is a step on a case the receiver already
holds, sent by the side that takes that step.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from domain.case import PROVIDING, RECEIVING, REQUESTED, REQUESTING

OPENING = {"request": REQUESTING, "spontaneous": PROVIDING}
STEPS_TO_REQUESTER = ("acknowledgement", "forwarding", "reply", "refusal", "postponement", "consultation")
STEPS_TO_REQUESTED = ("written_confirmation",)
# Information control (JP-NO Art. 7, 8(2), 10, 14(1)): between the holder of received
# information (requesting or receiving side) and its provider (requested or providing side).
TO_PROVIDER = ("consent_request", "advance_notice", "disclosure_notice")
TO_HOLDER = ("consent_grant", "consent_denial", "restriction_notice")
# Personal data rectified by one side's DPO, told to the other (JP-NO Art. 9(2)): either way.
EITHER_WAY = ("rectification_notice",)
KINDS = (*OPENING, *STEPS_TO_REQUESTER, *STEPS_TO_REQUESTED, *TO_PROVIDER, *TO_HOLDER, *EITHER_WAY)

# The sides a receiving node's case may hold for each step it is sent.
RECEIVER_SIDES = {
    **{k: {REQUESTING} for k in STEPS_TO_REQUESTER},
    **{k: {REQUESTED} for k in STEPS_TO_REQUESTED},
    **{k: {REQUESTED, PROVIDING} for k in TO_PROVIDER},
    **{k: {REQUESTING, RECEIVING} for k in TO_HOLDER},
    **{k: {REQUESTING, REQUESTED, PROVIDING, RECEIVING} for k in EITHER_WAY},
}


def local_case_id(own_administration: str, opened_by: str, exchange_id: UUID) -> UUID:
    """The id a node gives its own case for a case exchanged with a partner.

    The opening node keeps its id; the other node derives one from the opener
    and the exchange id, so that a retried opening envelope finds the same case.
    """
    if opened_by == own_administration:
        return exchange_id
    return uuid5(NAMESPACE_URL, f"cmaa:case:{opened_by}:{exchange_id}")
