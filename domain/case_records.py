"""Facts either side of a case records: the delivery outcomes of its envelopes, and the
rectification and erasure of personal data (JP-NO Art. 9(2)).
"""

from __future__ import annotations

from datetime import datetime

from eventsourcing.domain import event

from domain.case_states import CaseRules, require_text
from domain.errors import IllegalTransition, InvalidInput, NotFound

# A refused consent answer reopens its consent (``ConsentAnswerReturned``): it is answered anew, not resent.
ANSWERED_ANEW = ("consent_grant", "consent_denial")


class CaseRecords(CaseRules):
    """Delivery outcomes and personal-data corrections, on either side."""

    # -- delivery outcomes of this node's envelopes ----------------------------------
    def record_delivery(self, *, envelope_id: str, kind: str, receipt: str, envelope_sha256: str,
                        at: datetime) -> None:
        if self.deliveries.get(envelope_id, {}).get("status") in ("delivered", "rejected"):
            return  # a retried delivery returned the same receipt: already recorded
        self._envelope_delivered(envelope_id=envelope_id, kind=kind, receipt=receipt,
                                 envelope_sha256=envelope_sha256, at=at)

    @event("EnvelopeDelivered")
    def _envelope_delivered(self, envelope_id: str, kind: str, receipt: str, envelope_sha256: str,
                            at: datetime) -> None:
        self.deliveries[envelope_id] = {"kind": kind, "status": "delivered", "at": at}

    def record_rejection(self, *, envelope_id: str, kind: str, step: int | None, code: str, reason: str,
                         signed_rejection: str | None, at: datetime, body: dict | None = None) -> None:
        """The partner refused one of our envelopes (its signed rejection kept). A consent answer it refused
        never reached it: the consent is open again and can be answered anew once the cause is fixed."""
        if self.deliveries.get(envelope_id, {}).get("status") in ("delivered", "rejected"):
            return
        self._envelope_rejected(envelope_id=envelope_id, kind=kind, step=step, code=code, reason=reason,
                                signed_rejection=signed_rejection, at=at)
        consent_id = (body or {}).get("consent_id")
        if kind in ("consent_grant", "consent_denial") and \
                self.consents.get(consent_id, {}).get("status") in ("granted", "denied"):
            self._consent_answer_returned(consent_id=consent_id, envelope_id=envelope_id, code=code, reason=reason,
                                          at=at)

    @event("ConsentAnswerReturned")
    def _consent_answer_returned(self, consent_id: str, envelope_id: str, code: str, reason: str,
                                 at: datetime) -> None:
        consent = self.consents[consent_id]
        returned = {"answer": consent["status"], "envelope_id": envelope_id, "code": code, "reason": reason, "at": at}
        consent.update(status="requested", returned=[*consent.get("returned", []), returned])

    @event("EnvelopeRejected")
    def _envelope_rejected(self, envelope_id: str, kind: str, step: int | None, code: str, reason: str,
                           signed_rejection: str | None, at: datetime) -> None:
        self.deliveries[envelope_id] = {"kind": kind, "status": "rejected", "step": step, "code": code,
                                        "reason": reason, "at": at}

    def resend_rejected(self, *, envelope_id: str, by: dict, at: datetime) -> str:
        """Send again an envelope the partner refused, once its cause is fixed (the partner imported our
        directory, the agreement came into force, ...): the same envelope, sealed afresh. Returns its kind."""
        delivery = self.deliveries.get(envelope_id)
        if delivery is None:
            raise NotFound(f"this case has no envelope {envelope_id} with an outcome", field="envelope_id")
        if delivery["status"] != "rejected":
            raise IllegalTransition(f"envelope {envelope_id} is {delivery['status']}: only an envelope the partner "
                                    "refused can be sent again", field="envelope_id")
        if delivery.get("code") == "personal-data-erased":
            raise IllegalTransition("the personal data this envelope carried was erased before it was sent: it is "
                                    "never sent (JP-NO Art. 9(2))", field="envelope_id", article="JP-NO Art. 9(2)")
        if delivery["kind"] in ANSWERED_ANEW:
            raise IllegalTransition("a refused consent answer reopened its consent: answer the consent again "
                                    "instead of resending the old answer", field="envelope_id")
        self._envelope_resent(envelope_id=envelope_id, kind=delivery["kind"], by=by, at=at)
        return delivery["kind"]

    @event("EnvelopeResent")
    def _envelope_resent(self, envelope_id: str, kind: str, by: dict, at: datetime) -> None:
        previous = self.deliveries[envelope_id]
        self.deliveries[envelope_id] = {"kind": kind, "status": "resent", "at": at, "by": by,
                                        "refused": [*previous.get("refused", []),
                                                    {k: previous.get(k) for k in ("step", "code", "reason", "at")}]}

    # -- personal data: rectification and erasure (JP-NO Art. 9(2)) ------------------
    def rectify_target(self, *, subject_id: str, index: int, value: dict, reason: str, by: dict, at: datetime,
                       article: str, envelope_id: str | None = None) -> None:
        """A correcting event: the target reads as corrected from now on; the original stays in its event."""
        targets = self.content.get("targets") or []
        if not 0 <= index < len(targets):
            raise InvalidInput(f"the case has no target {index}", field="target_index", article=article)
        require_text(reason, "reason", article)
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

