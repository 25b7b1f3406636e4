"""The requested side's rules: answering a partner's request (JP-NO Art. 12, 14; Nairobi Art. 3, 6; Nordic Art. 8).

``ProvidedInformation`` holds the rules for information this node provided (as the requested
side, or spontaneously): answering consent requests (JP-NO Art. 7(2), 10(2)), tightening use
restrictions, and the notices and reports the receiver sends back.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from eventsourcing.domain import event

from domain.case_states import (
    ACKNOWLEDGED,
    FORWARDED,
    IN_CONSULTATION,
    POSTPONED,
    PROVIDING,
    REFUSED,
    REPLIED,
    REPLYING,
    REQUESTED,
    ACKNOWLEDGEMENT,
    CONSULTATION,
    FINAL_REPLY,
    FORWARDING,
    INTERIM_REPLY,
    PARTNER,
    POSTPONEMENT,
    REFUSAL,
    WRITTEN_CONFIRMATION,
    CaseRules,
    require_text,
)
from domain.errors import IllegalTransition, InvalidInput, NotFound


class RequestedSide(CaseRules):
    """The rules of the administration a request was made to."""

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
        self._require_step(ACKNOWLEDGEMENT, article)
        self._acknowledged(by=by, at=at, article=article)

    @event("RequestAcknowledged")
    def _acknowledged(self, by: dict, at: datetime, article: str) -> None:
        self.status = ACKNOWLEDGED

    def forward(self, *, by: dict, at: datetime, article: str, authority: str, reason: str) -> None:
        self._require_side(REQUESTED, "only the requested administration forwards a request", article)
        self._require_step(FORWARDING, article)
        require_text(authority, "authority", article)
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
        self._require_step(FINAL_REPLY if final else INTERIM_REPLY, article)
        self._require_new_items(items, articles[1] if len(articles) > 1 else article)
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
        self._require_step(REFUSAL, article)
        if not grounds:
            raise InvalidInput("a refusal names at least one ground", article=article, field="grounds")
        # JP-NO Art. 12(3), 14(5); Nordic Art. 8(2): a refusal always carries reasons.
        require_text(reasons, "reasons", article)
        self._refused(by=by, at=at, articles=articles, grounds=grounds, reasons=reasons)

    @event("RequestRefused")
    def _refused(self, by: dict, at: datetime, articles: list, grounds: list, reasons: str) -> None:
        self.status = REFUSED
        self.refusal = {"grounds": grounds, "reasons": reasons, "at": at}

    def postpone(self, *, by: dict, at: datetime, articles: list[str], reasons: str, until: str | None) -> None:
        article = articles[0]
        self._require_side(REQUESTED, "only the requested administration postpones assistance", article)
        self._require_step(POSTPONEMENT, article)
        # JP-NO Art. 14(5): postponement always carries reasons.
        require_text(reasons, "reasons", articles[-1])
        self._postponed(by=by, at=at, articles=articles, reasons=reasons, until=until)

    @event("RequestPostponed")
    def _postponed(self, by: dict, at: datetime, articles: list, reasons: str, until: str | None) -> None:
        self.status = POSTPONED
        self.postponement = {"reasons": reasons, "until": until, "at": at}

    def open_consultation(self, *, by: dict, at: datetime, article: str, subject: str, message: str) -> None:
        self._require_side(REQUESTED, "the requested administration opens a consultation", article)
        self._require_step(CONSULTATION, article)
        require_text(message, "message", article)
        self._consultation_opened(by=by, at=at, article=article, subject=subject, message=message)

    @event("ConsultationOpened")
    def _consultation_opened(self, by: dict, at: datetime, article: str, subject: str, message: str) -> None:
        self.status = IN_CONSULTATION
        self.consultations.append({"subject": subject, "message": message, "at": at, "article": article})


    def record_partner_confirmation(self, *, envelope_id: str, by: dict, at: datetime, article: str,
                                    reference: str) -> None:
        """The requesting administration confirmed its oral request in writing."""
        if self.side != REQUESTED or not self.is_oral:
            raise IllegalTransition("a written confirmation applies to a received oral request")
        self._require_step(WRITTEN_CONFIRMATION, article, PARTNER)
        if self.confirmed_in_writing_at is not None:
            raise IllegalTransition("already confirmed in writing")
        self._partner_confirmation_recorded(envelope_id=envelope_id, by=by, at=at, article=article,
                                            reference=reference)

    @event("WrittenConfirmationReceived")
    def _partner_confirmation_recorded(self, envelope_id: str, by: dict, at: datetime, article: str,
                                       reference: str) -> None:
        self.envelopes_applied.append(envelope_id)
        self.confirmed_in_writing_at = at



class ProvidedInformation(CaseRules):
    """The rules for information this node provided."""

    @property
    def provided_information(self) -> bool:
        return self.side in (REQUESTED, PROVIDING)

    def _require_provider(self, what: str) -> None:
        if not self.provided_information:
            raise IllegalTransition(f"{what} is for the administration that provided the information")

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
            raise NotFound(f"no consent request {consent_id} in this case", field="consent_id")
        if consent["status"] != "requested":
            raise IllegalTransition(f"consent {consent_id} is already {consent['status']}")
        if not granted and not (reasons or "").strip():
            raise InvalidInput("a denial gives reasons", field="reasons", article=article)
        if granted and expires_on and date.fromisoformat(expires_on) < at.date():
            raise InvalidInput(f"the consent would expire on {expires_on}, before it is given ({at.date().isoformat()})"
                               "; give an expiry from today on, or none", field="expires_on", article=article)
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

    def tighten_restrictions(self, *, item_id: str, restrictions: dict, by: dict, at: datetime,
                             article: str) -> None:
        self._require_provider("tightening use restrictions")
        if item_id not in self.items_by_id:
            raise NotFound(f"this node provided no item {item_id} in this case", field="item_id")
        self._restrictions_tightened(item_id=item_id, restrictions=restrictions, by=by, at=at, article=article)

    @event("UseRestrictionsTightened")
    def _restrictions_tightened(self, item_id: str, restrictions: dict, by: dict, at: datetime, article: str) -> None:
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

