"""The assistance case: one aggregate per case per node.

The requesting node and the requested node each hold their own case; each step
is a past-tense fact naming who did it, when, and the article it rests on.
Invariants are checked in the command methods *before* an event is triggered;
the ``@event`` bodies only apply facts (they re-run on every replay, so they
hold no clock, no randomness, no I/O).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import IllegalTransition, InvalidInput, NotPermitted

REQUESTING = "requesting"
REQUESTED = "requested"
PROVIDING = "providing"
RECEIVING = "receiving"  # spontaneous assistance received from a partner

# Status of a case, from the holding node's point of view.
REQUESTED_STATUS = "requested"  # requesting side: request made, awaiting the partner
RECEIVED = "received"
ACKNOWLEDGED = "acknowledged"
FORWARDED = "forwarded"
POSTPONED = "postponed"
IN_CONSULTATION = "in_consultation"
REPLYING = "replying"  # interim reply or running special-surveillance reports
REPLIED = "replied"
REFUSED = "refused"
PROVIDED = "provided"  # spontaneous assistance given
INFORMATION_RECEIVED = "information_received"
CLOSED = "closed"

TERMINAL = frozenset({FORWARDED, REPLIED, REFUSED, CLOSED})


def actor(administration: str, official: str) -> dict[str, str]:
    return {"administration": administration, "official": official}


class AssistanceCase(Aggregate):
    """A mutual-assistance case as one administration holds it."""

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

    def confirm_in_writing(self, *, by: dict, at: datetime, article: str, reference: str) -> None:
        if not self.is_oral:
            raise IllegalTransition("only an oral request is confirmed in writing", article=article)
        if self.confirmed_in_writing_at is not None:
            raise IllegalTransition(
                f"already confirmed in writing on {self.confirmed_in_writing_at.isoformat()}", article=article
            )
        self._confirmed_in_writing(by=by, at=at, article=article, reference=reference)

    @event("WrittenConfirmationGiven")
    def _confirmed_in_writing(self, by: dict, at: datetime, article: str, reference: str) -> None:
        self.confirmed_in_writing_at = at

    def require_written_confirmation(self, *, by: dict, at: datetime, article: str, within_days: int) -> None:
        """The requested side may require written confirmation (Nairobi Art. 7(4), Nordic Art. 6(2))."""
        self._require_side(REQUESTED, "only the requested administration requires a written confirmation", article)
        if not self.is_oral or self.confirmed_in_writing_at is not None:
            raise IllegalTransition("only an unconfirmed oral request needs a written confirmation", article=article)
        self._written_confirmation_required(by=by, at=at, article=article, due_by=at + timedelta(days=within_days))

    @event("WrittenConfirmationRequired")
    def _written_confirmation_required(self, by: dict, at: datetime, article: str, due_by: datetime) -> None:
        self.confirmation_due_by = due_by

    # -- the requested side (JP-NO Art. 12, 14; Nairobi Art. 3, 6; Nordic Art. 8) ---
    def acknowledge(self, *, by: dict, at: datetime, article: str) -> None:
        self._require_side(REQUESTED, "only the requested administration acknowledges a request", article)
        self._require_status({RECEIVED}, "acknowledge", article)
        self._acknowledged(by=by, at=at, article=article)

    @event("RequestAcknowledged")
    def _acknowledged(self, by: dict, at: datetime, article: str) -> None:
        self.status = ACKNOWLEDGED

    def forward(self, *, by: dict, at: datetime, article: str, authority: str, reason: str) -> None:
        self._require_side(REQUESTED, "only the requested administration forwards a request", article)
        self._require_status({ACKNOWLEDGED, POSTPONED}, "forward", article)
        _require_text(authority, "authority", article)
        self._forwarded(by=by, at=at, article=article, authority=authority, reason=reason)

    @event("RequestForwarded")
    def _forwarded(self, by: dict, at: datetime, article: str, authority: str, reason: str) -> None:
        self.status = FORWARDED
        self.forwarded_to = authority

    def reply(
        self,
        *,
        by: dict,
        at: datetime,
        articles: list[str],
        items: list[dict],
        final: bool,
        partial_reasons: str | None,
        conditions: list[str],
    ) -> None:
        article = articles[0]
        self._require_side(REQUESTED, "only the requested administration replies to a request", article)
        self._require_status({ACKNOWLEDGED, POSTPONED, IN_CONSULTATION, REPLYING}, "reply to", article)
        self._information_provided(
            by=by,
            at=at,
            articles=articles,
            items=items,
            final=final,
            partial_reasons=partial_reasons,
            conditions=conditions,
        )

    @event("InformationProvided")
    def _information_provided(
        self,
        by: dict,
        at: datetime,
        articles: list,
        items: list,
        final: bool,
        partial_reasons: str | None,
        conditions: list,
    ) -> None:
        self.items.extend(items)
        self.conditions.extend(conditions)
        self.partial = self.partial or bool(partial_reasons)
        self.status = REPLIED if final else REPLYING

    def refuse(self, *, by: dict, at: datetime, articles: list[str], grounds: list[str], reasons: str) -> None:
        article = articles[0]
        self._require_side(REQUESTED, "only the requested administration refuses a request", article)
        self._require_status({RECEIVED, ACKNOWLEDGED, POSTPONED, IN_CONSULTATION}, "refuse", article)
        if not grounds:
            raise InvalidInput("a refusal names at least one ground", article=article, field="grounds")
        # JP-NO Art. 12(3), 14(5); Nordic Art. 8(2): a refusal always carries reasons.
        _require_text(reasons, "reasons", article)
        self._refused(by=by, at=at, articles=articles, grounds=grounds, reasons=reasons)

    @event("RequestRefused")
    def _refused(self, by: dict, at: datetime, articles: list, grounds: list, reasons: str) -> None:
        self.status = REFUSED
        self.refusal = {"grounds": grounds, "reasons": reasons, "at": at}

    def postpone(self, *, by: dict, at: datetime, articles: list[str], reasons: str, until: str | None) -> None:
        article = articles[0]
        self._require_side(REQUESTED, "only the requested administration postpones assistance", article)
        self._require_status({ACKNOWLEDGED, IN_CONSULTATION}, "postpone", article)
        # JP-NO Art. 14(5): postponement always carries reasons.
        _require_text(reasons, "reasons", articles[-1])
        self._postponed(by=by, at=at, articles=articles, reasons=reasons, until=until)

    @event("RequestPostponed")
    def _postponed(self, by: dict, at: datetime, articles: list, reasons: str, until: str | None) -> None:
        self.status = POSTPONED
        self.postponement = {"reasons": reasons, "until": until, "at": at}

    def open_consultation(self, *, by: dict, at: datetime, article: str, subject: str, message: str) -> None:
        self._require_side(REQUESTED, "the requested administration opens a consultation", article)
        self._require_status({ACKNOWLEDGED, POSTPONED, REPLYING}, "open a consultation on", article)
        _require_text(message, "message", article)
        self._consultation_opened(by=by, at=at, article=article, subject=subject, message=message)

    @event("ConsultationOpened")
    def _consultation_opened(self, by: dict, at: datetime, article: str, subject: str, message: str) -> None:
        self.status = IN_CONSULTATION
        self.consultations.append({"subject": subject, "message": message, "at": at, "article": article})

    # -- either side -------------------------------------------------------------
    def close(self, *, by: dict, at: datetime, reason: str) -> None:
        if self.status == CLOSED:
            raise IllegalTransition("the case is already closed")
        _require_text(reason, "reason", None)
        self._closed(by=by, at=at, reason=reason)

    @event("CaseClosed")
    def _closed(self, by: dict, at: datetime, reason: str) -> None:
        self.status = CLOSED

    # -- steps the partner reported by envelope (the requesting side's view) ----------
    PARTNER_STEPS = {
        "acknowledgement": ACKNOWLEDGED,
        "forwarding": FORWARDED,
        "reply": None,  # REPLYING or REPLIED, by the reply's ``final``
        "refusal": REFUSED,
        "postponement": POSTPONED,
        "consultation": IN_CONSULTATION,
    }

    def record_partner_step(self, *, step: str, envelope_id: str, by: dict, at: datetime, articles: list[str],
                            body: dict) -> None:
        """The requested administration reported a step on our request."""
        if self.side != REQUESTING:
            raise IllegalTransition(f"a {step} is sent to the requesting side; this node holds the {self.side} side")
        if step not in self.PARTNER_STEPS:
            raise InvalidInput(f"unknown step {step!r}", field="kind")
        if by["administration"] != self.partner_administration:
            raise NotPermitted(f"only {self.partner_administration} reports steps on this case")
        if self.status in (REFUSED, FORWARDED, CLOSED) or (self.status == REPLIED and step != "reply"):
            raise IllegalTransition(f"the case is {self.status}; a {step} no longer applies")
        self._partner_step_recorded(step=step, envelope_id=envelope_id, by=by, at=at, articles=articles, body=body)

    @event("PartnerStepReceived")
    def _partner_step_recorded(self, step: str, envelope_id: str, by: dict, at: datetime, articles: list,
                               body: dict) -> None:
        self.envelopes_applied.append(envelope_id)
        if step == "reply":
            self.items.extend(body.get("items", []))
            self.conditions.extend(body.get("conditions", []))
            self.partial = self.partial or bool(body.get("partial_reasons"))
            self.status = REPLIED if body.get("final", True) else REPLYING
        else:
            self.status = self.PARTNER_STEPS[step]
        if step == "refusal":
            self.refusal = {"grounds": body.get("grounds", []), "reasons": body.get("reasons", ""), "at": at}
        elif step == "postponement":
            self.postponement = {"reasons": body.get("reasons", ""), "until": body.get("until"), "at": at}
        elif step == "forwarding":
            self.forwarded_to = body.get("authority")
        elif step == "consultation":
            self.consultations.append({"subject": body.get("subject"), "message": body.get("message"), "at": at,
                                       "article": articles[0] if articles else None})

    def record_partner_confirmation(self, *, envelope_id: str, by: dict, at: datetime, article: str,
                                    reference: str) -> None:
        """The requesting administration confirmed its oral request in writing."""
        if self.side != REQUESTED or not self.is_oral:
            raise IllegalTransition("a written confirmation applies to a received oral request")
        if self.confirmed_in_writing_at is not None:
            raise IllegalTransition("already confirmed in writing")
        self._partner_confirmation_recorded(envelope_id=envelope_id, by=by, at=at, article=article,
                                            reference=reference)

    @event("WrittenConfirmationReceived")
    def _partner_confirmation_recorded(self, envelope_id: str, by: dict, at: datetime, article: str,
                                       reference: str) -> None:
        self.envelopes_applied.append(envelope_id)
        self.confirmed_in_writing_at = at

    # -- delivery outcomes of this node's envelopes ----------------------------------
    def record_delivery(self, *, envelope_id: str, kind: str, receipt: str, envelope_sha256: str,
                        at: datetime) -> None:
        if envelope_id in self.deliveries:
            return  # a retried delivery returned the same receipt: already recorded
        self._envelope_delivered(envelope_id=envelope_id, kind=kind, receipt=receipt,
                                 envelope_sha256=envelope_sha256, at=at)

    @event("EnvelopeDelivered")
    def _envelope_delivered(self, envelope_id: str, kind: str, receipt: str, envelope_sha256: str,
                            at: datetime) -> None:
        self.deliveries[envelope_id] = {"kind": kind, "status": "delivered", "at": at}

    def record_rejection(self, *, envelope_id: str, kind: str, step: int | None, code: str, reason: str,
                         signed_rejection: str | None, at: datetime) -> None:
        if envelope_id in self.deliveries:
            return
        self._envelope_rejected(envelope_id=envelope_id, kind=kind, step=step, code=code, reason=reason,
                                signed_rejection=signed_rejection, at=at)

    @event("EnvelopeRejected")
    def _envelope_rejected(self, envelope_id: str, kind: str, step: int | None, code: str, reason: str,
                           signed_rejection: str | None, at: datetime) -> None:
        self.deliveries[envelope_id] = {"kind": kind, "status": "rejected", "step": step, "code": code,
                                        "reason": reason, "at": at}

    # -- information received: consent, notices, disclosure (JP-NO Art. 7, 10, 14(1)) ----
    @property
    def holds_received_information(self) -> bool:
        return self.side in (REQUESTING, RECEIVING)

    @property
    def provided_information(self) -> bool:
        return self.side in (REQUESTED, PROVIDING)

    @property
    def items_by_id(self) -> dict[str, dict]:
        return {item["item_id"]: item for item in self.items}

    def _require_holder(self, what: str) -> None:
        if not self.holds_received_information:
            raise IllegalTransition(f"{what} concerns information this node received; it holds the {self.side} side")

    def _require_provider(self, what: str) -> None:
        if not self.provided_information:
            raise IllegalTransition(f"{what} is for the administration that provided the information")

    def request_consent(self, *, consent_id: str, items: list[str], action: str, recipient_authority: str | None,
                        purpose: str, supporting_information: str | None, by: dict, at: datetime,
                        article: str) -> None:
        self._require_holder("a consent request")
        missing = [i for i in items if i not in self.items_by_id]
        if not items or missing:
            raise InvalidInput(f"no information item {', '.join(missing) or '(none named)'} in this case",
                               field="items")
        self._consent_requested(consent_id=consent_id, items=items, action=action,
                                recipient_authority=recipient_authority, purpose=purpose,
                                supporting_information=supporting_information, by=by, at=at, article=article)

    @event("ConsentRequested")
    def _consent_requested(self, consent_id: str, items: list, action: str, recipient_authority: str | None,
                           purpose: str, supporting_information: str | None, by: dict, at: datetime,
                           article: str) -> None:
        self.consents[consent_id] = {"items": items, "action": action, "recipient_authority": recipient_authority,
                                     "purpose": purpose, "status": "requested", "requested_at": at}

    def record_consent_request(self, *, consent_id: str, items: list[str], action: str,
                               recipient_authority: str | None, purpose: str, supporting_information: str | None,
                               envelope_id: str, by: dict, at: datetime, article: str) -> None:
        self._require_provider("a consent request")
        if consent_id in self.consents:
            raise IllegalTransition(f"consent {consent_id} was already requested")
        unknown = [i for i in items if i not in self.items_by_id]
        if unknown:
            raise InvalidInput(f"this node provided no item {', '.join(unknown)} in this case", field="items")
        self._consent_request_received(consent_id=consent_id, items=items, action=action,
                                       recipient_authority=recipient_authority, purpose=purpose,
                                       supporting_information=supporting_information, envelope_id=envelope_id,
                                       by=by, at=at, article=article)

    @event("ConsentRequestReceived")
    def _consent_request_received(self, consent_id: str, items: list, action: str, recipient_authority: str | None,
                                  purpose: str, supporting_information: str | None, envelope_id: str, by: dict,
                                  at: datetime, article: str) -> None:
        self.envelopes_applied.append(envelope_id)
        self.consents[consent_id] = {"items": items, "action": action, "recipient_authority": recipient_authority,
                                     "purpose": purpose, "supporting_information": supporting_information,
                                     "status": "requested", "requested_at": at}

    def answer_consent(self, *, consent_id: str, granted: bool, conditions: list[str], expires_on: str | None,
                       reasons: str | None, by: dict, at: datetime, article: str) -> None:
        """The provider's designated official grants or denies (JP-NO Art. 7(2), 10(2))."""
        self._require_provider("granting or denying consent")
        consent = self.consents.get(consent_id)
        if consent is None:
            raise InvalidInput(f"no consent request {consent_id} in this case", field="consent_id")
        if consent["status"] != "requested":
            raise IllegalTransition(f"consent {consent_id} is already {consent['status']}")
        if not granted and not (reasons or "").strip():
            raise InvalidInput("a denial gives reasons", field="reasons", article=article)
        if granted:
            self._consent_granted(consent_id=consent_id, conditions=conditions, expires_on=expires_on, by=by,
                                  at=at, article=article)
        else:
            self._consent_denied(consent_id=consent_id, reasons=reasons, by=by, at=at, article=article)

    @event("ConsentGranted")
    def _consent_granted(self, consent_id: str, conditions: list, expires_on: str | None, by: dict, at: datetime,
                         article: str) -> None:
        self.consents[consent_id].update(status="granted", conditions=conditions, expires_on=expires_on)

    @event("ConsentDenied")
    def _consent_denied(self, consent_id: str, reasons: str, by: dict, at: datetime, article: str) -> None:
        self.consents[consent_id].update(status="denied", reasons=reasons)

    def record_consent_answer(self, *, consent_id: str, granted: bool, conditions: list[str],
                              expires_on: str | None, reasons: str | None, envelope_id: str, by: dict,
                              at: datetime, article: str) -> None:
        self._require_holder("a consent answer")
        consent = self.consents.get(consent_id)
        if consent is None:
            raise IllegalTransition(f"no consent {consent_id} was requested in this case")
        if consent["status"] != "requested":
            raise IllegalTransition(f"consent {consent_id} is already {consent['status']}")
        if by["administration"] != self.partner_administration:
            raise NotPermitted("only the providing administration answers a consent request")
        if granted:
            self._consent_grant_received(consent_id=consent_id, conditions=conditions, expires_on=expires_on,
                                         envelope_id=envelope_id, by=by, at=at, article=article)
        else:
            self._consent_denial_received(consent_id=consent_id, reasons=reasons, envelope_id=envelope_id, by=by,
                                          at=at, article=article)

    @event("ConsentGrantReceived")
    def _consent_grant_received(self, consent_id: str, conditions: list, expires_on: str | None, envelope_id: str,
                                by: dict, at: datetime, article: str) -> None:
        self.envelopes_applied.append(envelope_id)
        self.consents[consent_id].update(status="granted", conditions=conditions, expires_on=expires_on,
                                         granted_by=by)

    @event("ConsentDenialReceived")
    def _consent_denial_received(self, consent_id: str, reasons: str, envelope_id: str, by: dict, at: datetime,
                                 article: str) -> None:
        self.envelopes_applied.append(envelope_id)
        self.consents[consent_id].update(status="denied", reasons=reasons)

    def give_advance_notice(self, *, notice_id: str, items: list[str], recipient_authority: str,
                            legal_provision: str, by: dict, at: datetime, article: str) -> None:
        self._require_holder("an advance notice")
        missing = [i for i in items if i not in self.items_by_id]
        if not items or missing:
            raise InvalidInput(f"no information item {', '.join(missing) or '(none named)'} in this case",
                               field="items")
        _require_text(legal_provision, "legal_provision", article)
        self._advance_notice_given(notice_id=notice_id, items=items, recipient_authority=recipient_authority,
                                   legal_provision=legal_provision, by=by, at=at, article=article)

    @event("AdvanceNoticeGiven")
    def _advance_notice_given(self, notice_id: str, items: list, recipient_authority: str, legal_provision: str,
                              by: dict, at: datetime, article: str) -> None:
        self.notices[notice_id] = {"kind": "advance_notice", "items": items, "recipient_authority": recipient_authority,
                                   "legal_provision": legal_provision, "at": at}

    def record_disclosure(self, *, disclosure_id: str, request: dict, articles: list[str], by: dict,
                          at: datetime) -> None:
        self._require_holder("a disclosure")
        if request["action"] == "disclosure":
            self._information_disclosed(disclosure_id=disclosure_id, request=request, articles=articles, by=by, at=at)
        else:
            self._information_used(disclosure_id=disclosure_id, request=request, articles=articles, by=by, at=at)

    @event("InformationDisclosed")
    def _information_disclosed(self, disclosure_id: str, request: dict, articles: list, by: dict,
                               at: datetime) -> None:
        self.disclosures.append({"disclosure_id": disclosure_id, **request, "articles": articles, "at": at})

    @event("InformationUsed")
    def _information_used(self, disclosure_id: str, request: dict, articles: list, by: dict, at: datetime) -> None:
        self.disclosures.append({"disclosure_id": disclosure_id, **request, "articles": articles, "at": at})

    def record_refused_disclosure(self, *, request: dict, article: str | None, reason: str, by: dict,
                                  at: datetime) -> None:
        """An attempt the node refused is itself a fact the auditor must see."""
        self._disclosure_refused(request=request, article=article, reason=reason, by=by, at=at)

    @event("DisclosureRefused")
    def _disclosure_refused(self, request: dict, article: str | None, reason: str, by: dict, at: datetime) -> None:
        self.refused_attempts.append({**request, "article": article, "reason": reason, "at": at})

    def tighten_restrictions(self, *, item_id: str, restrictions: dict, by: dict, at: datetime,
                             article: str) -> None:
        self._require_provider("tightening use restrictions")
        if item_id not in self.items_by_id:
            raise InvalidInput(f"this node provided no item {item_id} in this case", field="item_id")
        self._restrictions_tightened(item_id=item_id, restrictions=restrictions, by=by, at=at, article=article)

    @event("UseRestrictionsTightened")
    def _restrictions_tightened(self, item_id: str, restrictions: dict, by: dict, at: datetime, article: str) -> None:
        self.items = [{**i, "restrictions": restrictions} if i["item_id"] == item_id else i for i in self.items]

    def record_restrictions_notice(self, *, item_id: str, restrictions: dict, envelope_id: str, by: dict,
                                   at: datetime, article: str) -> None:
        self._require_holder("a restriction notice")
        if item_id not in self.items_by_id:
            raise InvalidInput(f"no item {item_id} was received in this case", field="item_id")
        self._restrictions_notice_received(item_id=item_id, restrictions=restrictions, envelope_id=envelope_id,
                                           by=by, at=at, article=article)

    @event("UseRestrictionsNotified")
    def _restrictions_notice_received(self, item_id: str, restrictions: dict, envelope_id: str, by: dict,
                                      at: datetime, article: str) -> None:
        self.envelopes_applied.append(envelope_id)
        self.items = [{**i, "restrictions": restrictions} if i["item_id"] == item_id else i for i in self.items]

    def record_partner_notice(self, *, notice_id: str, kind: str, notice: dict, envelope_id: str, by: dict,
                              at: datetime, article: str) -> None:
        """The receiver reported an advance notice, a disclosure or a use to us, the provider."""
        self._require_provider("a disclosure notice")
        self._partner_notice_received(notice_id=notice_id, kind=kind, notice=notice, envelope_id=envelope_id, by=by,
                                      at=at, article=article)

    @event("DisclosureReported")
    def _partner_notice_received(self, notice_id: str, kind: str, notice: dict, envelope_id: str, by: dict,
                                 at: datetime, article: str) -> None:
        self.envelopes_applied.append(envelope_id)
        self.notices[notice_id] = {"kind": kind, **notice, "at": at}

    # -- personal data: rectification and erasure (JP-NO Art. 9(2)) ------------------
    def rectify_target(self, *, subject_id: str, index: int, value: dict, reason: str, by: dict, at: datetime,
                       article: str, envelope_id: str | None = None) -> None:
        """A correcting event: the target reads as corrected from now on; the original stays in its event."""
        targets = self.content.get("targets") or []
        if not 0 <= index < len(targets):
            raise InvalidInput(f"the case has no target {index}", field="target_index", article=article)
        _require_text(reason, "reason", article)
        self._target_rectified(subject_id=subject_id, path=f"content.targets.{index}", value=value, reason=reason,
                               agreement=self.agreement, envelope_id=envelope_id, by=by, at=at, article=article)

    @event("PersonalDataRectified")
    def _target_rectified(self, subject_id: str, path: str, value: dict, reason: str, agreement: str,
                          envelope_id: str | None, by: dict, at: datetime, article: str) -> None:
        index = int(path.rsplit(".", 1)[1])
        self.content = {**self.content, "targets": [value if i == index else t
                                                    for i, t in enumerate(self.content.get("targets") or [])]}
        if envelope_id:
            self.envelopes_applied.append(envelope_id)
        self.rectifications.append({"path": path, "reason": reason, "by": by, "at": at, "article": article})

    def record_erasure(self, *, subject_id: str, key_ids: list[str], rule: str, by: dict, at: datetime) -> None:
        """The data keys of a subject's personal data in this case were destroyed under ``rule``."""
        self._personal_data_erased(subject_id=subject_id, key_ids=sorted(key_ids), rule=rule, by=by, at=at)

    @event("PersonalDataErased")
    def _personal_data_erased(self, subject_id: str, key_ids: list, rule: str, by: dict, at: datetime) -> None:
        self.erasures.append({"subject_id": subject_id, "key_ids": key_ids, "rule": rule, "at": at})

    def erased_keys(self) -> set[str]:
        return {k for e in self.erasures for k in e["key_ids"]}

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

    def _require_status(self, allowed: set[str], verb: str, article: str | None) -> None:
        if self.status not in allowed:
            raise IllegalTransition(
                f"cannot {verb} a case that is {self.status}; allowed when {', '.join(sorted(allowed))}",
                article=article,
            )


def _require_text(value: str | None, field: str, article: str | None) -> None:
    if value is None or not str(value).strip():
        raise InvalidInput(f"{field} must not be empty", article=article, field=field)
