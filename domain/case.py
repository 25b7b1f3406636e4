"""The assistance case: one aggregate per case per node.

The requesting node and the requested node each hold their own case; each step
is a past-tense fact naming who did it, when, and the article it rests on.
Invariants are checked in the command methods *before* an event is triggered;
the ``@event`` bodies only apply facts (they re-run on every replay, so they
hold no clock, no randomness, no I/O).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.case_records import CaseRecords
from domain.case_requested import ProvidedInformation, RequestedSide
from domain.case_requesting import ReceivedInformation, RequestingSide
from domain.case_states import (  # noqa: F401  (re-exported: ``from domain.case import REQUESTED, ...``)
    ACKNOWLEDGED,
    CLOSED,
    CLOSURE,
    FORWARDED,
    IN_CONSULTATION,
    INFORMATION_RECEIVED,
    POSTPONED,
    PROVIDED,
    PROVIDING,
    RECEIVED,
    RECEIVING,
    REFUSED,
    REPLIED,
    REPLYING,
    REQUESTED,
    REQUESTED_STATUS,
    REQUESTING,
    TERMINAL,
    UNANSWERED,
    actor,
    require_text,
)
from domain.errors import IllegalTransition, ItemIdReused, NotPermitted


class AssistanceCase(RequestingSide, ReceivedInformation, RequestedSide, ProvidedInformation, CaseRecords, Aggregate):
    """A mutual-assistance case as one administration holds it.

    Each side's rules, and the facts they record, live in their own module (``domain.case_requesting``,
    ``domain.case_requested``, ``domain.case_records``); the states in ``domain.case_states``.
    """

    class AssistanceRequested(Aggregate.Created):
        """A written request made by this administration (JP-NO Art. 11(2))."""

        agreement: str
        own_administration: str
        partner_administration: str
        side: str
        kind: str
        language: str
        reference: str
        content: dict
        addressed_to: list
        by: dict
        at: datetime
        articles: list
        channel: str
        confirmation_due_by: datetime | None
        items: list
        exchange_id: UUID | None
        via_envelope: str | None

    class OralRequestRecorded(AssistanceRequested):
        """An urgent oral request, recorded now; confirmation in writing owed (JP-NO Art. 11(3))."""

    class RequestReceived(AssistanceRequested):
        """A partner's request, received here (the requested side's case)."""

    class SpontaneousAssistanceProvided(AssistanceRequested):
        """Information given without a request (JP-NO Art. 5)."""

    class SpontaneousAssistanceReceived(AssistanceRequested):
        """Information a partner gave without a request, received here by envelope."""

    # -- creation ----------------------------------------------------------------
    @classmethod
    def open(cls, event_class: type[AssistanceRequested], *, case_id: UUID, **facts: Any) -> AssistanceCase:
        facts.setdefault("addressed_to", [])
        facts.setdefault("confirmation_due_by", None)
        facts.setdefault("items", [])
        facts.setdefault("exchange_id", None)
        facts.setdefault("via_envelope", None)
        return cls._create(event_class, id=case_id, **facts)

    def __init__(
        self,
        agreement: str,
        own_administration: str,
        partner_administration: str,
        side: str,
        kind: str,
        language: str,
        reference: str,
        content: dict,
        addressed_to: list,
        by: dict,
        at: datetime,
        articles: list,
        channel: str,
        confirmation_due_by: datetime | None,
        items: list,
        exchange_id: UUID | None = None,
        via_envelope: str | None = None,
    ):
        self.agreement = agreement
        self.own_administration = own_administration
        self.partner_administration = partner_administration
        self.side = side
        self.kind = kind
        self.language = language
        self.reference = reference
        self.content = content
        self.addressed_to = addressed_to
        self.opened_by = by
        self.opened_at = at
        self.channel = channel
        self.confirmation_due_by = confirmation_due_by
        self.confirmed_in_writing_at: datetime | None = None
        self.items: list[dict] = list(items)
        self.status = {REQUESTING: REQUESTED_STATUS, REQUESTED: RECEIVED, PROVIDING: PROVIDED,
                       RECEIVING: INFORMATION_RECEIVED}[side]
        # The id both nodes use for this case on the wire: the opening node's case id.
        self.exchange_id = exchange_id
        self.envelopes_applied: list[str] = [via_envelope] if via_envelope else []
        self.deliveries: dict[str, dict] = {}
        self.consents: dict[str, dict] = {}
        self.notices: dict[str, dict] = {}  # advance notices given (receiver) or received (provider)
        self.disclosures: list[dict] = []
        self.refused_attempts: list[dict] = []
        self.forwarded_to: str | None = None
        self.refusal: dict | None = None
        self.postponement: dict | None = None
        self.consultations: list[dict] = []
        self.conditions: list[str] = []
        self.partial = False
        self.erasures: list[dict] = []
        self.rectifications: list[dict] = []

    # -- the written confirmation of an oral request (JP-NO Art. 11(3)) ----------
    @property
    def is_oral(self) -> bool:
        return self.channel == "oral"

    def confirmation_overdue(self, now: datetime) -> bool:
        return (
            self.confirmation_due_by is not None
            and self.confirmed_in_writing_at is None
            and now > self.confirmation_due_by
        )

    # -- either side -------------------------------------------------------------
    def close(self, *, by: dict, at: datetime, reason: str, answer_article: str | None = None) -> None:
        """Close the case. A received request is closed only once answered: replied to, forwarded, or
        refused with reasons the requester is sent (``answer_article``: JP-NO Art. 12(3), 14(5))."""
        if self.side == REQUESTED and self.status in UNANSWERED:
            raise IllegalTransition(
                f"no closure while the request is {self.status}: it was never answered; refuse it with reasons "
                "(sent to the requester) or reply first", article=answer_article)
        self._require_step(CLOSURE, None)
        require_text(reason, "reason", None)
        self._closed(by=by, at=at, reason=reason)

    @event("CaseClosed")
    def _closed(self, by: dict, at: datetime, reason: str) -> None:
        self.status = CLOSED

    @property
    def items_by_id(self) -> dict[str, dict]:
        return {item["item_id"]: item for item in self.items}

    def _require_new_items(self, items: list[dict], article: str | None) -> None:
        """Item ids are unique in a case, whichever way an item arrives: an item keeps the restrictions it
        came with, which only tighten by notice (JP-NO Art. 8(2)); a later item cannot replace them."""
        ids = [item["item_id"] for item in items]
        reused = sorted({i for i in ids if i in self.items_by_id or ids.count(i) > 1})
        if reused:
            raise ItemIdReused(f"item id {', '.join(reused)} is already used in this case; each item has its own id",
                               article=article, field="items")
    # -- guards ------------------------------------------------------------------
    def require_owner(self, administration: str) -> None:
        """Officials act only on their own administration's cases (JP-NO Art. 11(1))."""
        if administration != self.own_administration:
            raise NotPermitted(
                f"this case belongs to administration {self.own_administration}; "
                f"officials of {administration} cannot act on it",
                field="case_id",
            )

    def _require_side(self, side: str, message: str, article: str | None) -> None:
        if self.side != side:
            raise IllegalTransition(f"{message}; this node holds the {self.side} side", article=article)


