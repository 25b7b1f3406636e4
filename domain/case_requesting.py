"""The requesting side's rules: its own request, and the steps its partner reports on it.

``ReceivedInformation`` holds the rules for information this node received (as the requesting
side, or as the receiver of spontaneous assistance): consent to other uses (JP-NO Art. 7, 10),
advance notice and reports of disclosures (Art. 14(1)), restriction notices.
"""

from __future__ import annotations

from datetime import datetime

from eventsourcing.domain import event

from domain.case_states import (
    ACKNOWLEDGED,
    FORWARDED,
    IN_CONSULTATION,
    POSTPONED,
    RECEIVING,
    REFUSED,
    REPLIED,
    REPLYING,
    REQUESTING,
    FINAL_REPLY,
    INTERIM_REPLY,
    OWN,
    PARTNER,
    REQUESTED,
    WRITTEN_CONFIRMATION,
    CaseRules,
    require_text,
)
from domain.errors import IllegalTransition, InvalidInput, NotPermitted


class RequestingSide(CaseRules):
    """The rules of the administration that made the request."""

    # -- the written confirmation of an oral request (JP-NO Art. 11(3)) ----------
    def confirm_in_writing(self, *, by: dict, at: datetime, article: str, reference: str) -> None:
        """The requester confirms its oral request in writing (JP-NO Art. 11(3)). The requested side records
        a confirmation here only for a case recorded by hand (no exchange): otherwise it arrives by envelope."""
        made_by = OWN
        if self.side == REQUESTED:
            if self.exchange_id is not None:
                raise IllegalTransition(
                    "the requesting administration confirms its oral request in writing, by envelope; this node "
                    "holds the requested side and records the confirmation when it arrives", article=article)
            made_by = PARTNER  # the partner's letter, recorded by hand
        self._require_step(WRITTEN_CONFIRMATION, article, made_by)
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
            raise InvalidInput(f"unknown step {step}", field="kind")
        if by["administration"] != self.partner_administration:
            raise NotPermitted(f"only {self.partner_administration} reports steps on this case")
        if step == "reply":
            step_taken = FINAL_REPLY if body.get("final", True) else INTERIM_REPLY
        else:
            step_taken = step
        self._require_step(step_taken, articles[0] if articles else None, PARTNER)
        if step == "reply":
            self._require_new_items(body.get("items", []), articles[1] if len(articles) > 1 else None)
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



class ReceivedInformation(CaseRules):
    """The rules for information this node received: consent, notices, disclosure (JP-NO Art. 7, 10, 14(1))."""

    @property
    def holds_received_information(self) -> bool:
        return self.side in (REQUESTING, RECEIVING)

    def _require_holder(self, what: str) -> None:
        if not self.holds_received_information:
            raise IllegalTransition(f"{what} concerns information this node received; it holds the {self.side} side")

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
        require_text(legal_provision, "legal_provision", article)
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

