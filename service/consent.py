"""Application service for use restrictions, consent, notices and disclosures.

Each command runs through ``CaseService._step``: load, decide, commit the event
with the envelope it causes in one transaction, re-run on a concurrent write.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass
from typing import Any
from uuid import UUID

from domain.case import AssistanceCase
from domain.errors import IllegalTransition
from domain.disclosure import DisclosureRefused, DisclosureRequest, check_disclosure, consent_article, tighten
from service.cases import CaseService
from domain.personal_data import ARTICLE as PD_ARTICLE
from domain.personal_data import ProcessingRestricted
from service.principal import Principal


def _new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@dataclass
class ConsentService:
    cases: CaseService

    @property
    def clock(self):
        return self.cases.clock

    # -- the holder of received information ---------------------------------------------
    def request_consent(self, who: Principal, case_id: UUID, *, items: list[str], action: str,
                        recipient_authority: str | None, purpose: str,
                        supporting_information: str | None) -> AssistanceCase:
        """Ask the provider for express written consent (JP-NO Art. 7(2), 10(2),(3))."""
        consent_id = _new_id("consent")

        def act(case, profile):
            case.request_consent(consent_id=consent_id, items=items, action=action,
                                 recipient_authority=recipient_authority, purpose=purpose,
                                 supporting_information=supporting_information, by=who.as_actor,
                                 at=self.clock.now(), article=consent_article(profile, action))
            return "consent_request", {"consent_id": consent_id, "items": items, "action": action,
                                       "recipient_authority": recipient_authority, "purpose": purpose,
                                       "supporting_information": supporting_information}
        return self.cases._step(who, case_id, act)

    def give_advance_notice(self, who: Principal, case_id: UUID, *, items: list[str], recipient_authority: str,
                            legal_provision: str) -> AssistanceCase:
        """Advance notice of a disclosure the receiver's law obliges (JP-NO Art. 14(1))."""
        notice_id = _new_id("notice")

        def act(case, profile):
            case.give_advance_notice(notice_id=notice_id, items=items, recipient_authority=recipient_authority,
                                     legal_provision=legal_provision, by=who.as_actor, at=self.clock.now(),
                                     article=profile.cite(profile.raw["disclosure"]["legal_obligation"]["article"]))
            return "advance_notice", {"notice_id": notice_id, "items": items,
                                      "recipient_authority": recipient_authority, "legal_provision": legal_provision}
        return self.cases._step(who, case_id, act)

    def disclose(self, who: Principal, case_id: UUID, request: DisclosureRequest) -> AssistanceCase:
        """Record a disclosure or use if it has a basis; otherwise record the refused attempt and refuse."""
        refused: list[DisclosureRefused] = []

        def act(case, profile):
            refused.clear()
            now = self.clock.now()
            data = asdict(request) | {"items": list(request.items)}
            self._require_unrestricted(case, request.items)
            self._require_notice_delivered(case, profile, request)
            try:
                articles = check_disclosure(profile, case.items_by_id, case.consents, case.notices, request,
                                            now.date())
            except DisclosureRefused as error:
                case.record_refused_disclosure(request=data, article=error.article, reason=error.detail,
                                               by=who.as_actor, at=now)
                refused.append(error)
                return None, {}
            notice_id = _new_id("disclosure")
            case.record_disclosure(disclosure_id=notice_id, request=data, articles=articles, by=who.as_actor, at=now)
            if request.basis == "within_purpose":
                return None, {}
            # The provider sees what happened (Art. 7(3), 14(1), and uses under a consent).
            return "disclosure_notice", {"notice_id": notice_id, **data}
        case = self.cases._step(who, case_id, act)
        if refused:
            raise refused[0]
        return case

    def _require_notice_delivered(self, case, profile, request: DisclosureRequest) -> None:
        """JP-NO Art. 14(1): advance notice is notice *before*: the provider must hold it, i.e. the notice's
        envelope has our stored signed receipt. A notice given outside the exchange (no envelope) stands."""
        if request.basis != "legal_obligation" or not request.advance_notice_id:
            return
        article = profile.cite(profile.raw["disclosure"]["legal_obligation"]["article"])
        for row in self.cases.store.exchange.for_case(str(case.id)):
            if row["kind"] != "advance_notice" or \
                    json.loads(row["payload"]).get("body", {}).get("notice_id") != request.advance_notice_id:
                continue
            if row["status"] == "pending":
                raise IllegalTransition(
                    f"advance notice {request.advance_notice_id} is in transit: {case.partner_administration} has not "
                    "received it yet (no signed receipt); disclose once it is delivered", article=article,
                    field="advance_notice_id")
            if row["status"] != "delivered":
                raise IllegalTransition(
                    f"advance notice {request.advance_notice_id} was rejected by {case.partner_administration}; give "
                    "a new advance notice", article=article, field="advance_notice_id")

    def _require_unrestricted(self, case, item_ids) -> None:
        """JP-NO Art. 9(2): no disclosure of personal data whose processing the DPO restricted."""
        vault = self.cases.exchange.vault if self.cases.exchange else None
        personal = [i for i in item_ids if case.items_by_id.get(i, {}).get("personal_data")]
        if vault is None or not personal:
            return
        since = vault.restricted_since(str(case.id))
        if since:
            raise ProcessingRestricted(
                f"item(s) {', '.join(personal)} hold personal data whose processing the data protection officer "
                f"restricted on {since}; no disclosure or use until it is lifted", article=PD_ARTICLE, field="items")

    # -- the provider ----------------------------------------------------------------------
    def answer_consent(self, who: Principal, case_id: UUID, consent_id: str, *, granted: bool,
                       conditions: list[str], expires_on: str | None, reasons: str | None) -> AssistanceCase:
        def act(case, profile):
            case.answer_consent(consent_id=consent_id, granted=granted, conditions=conditions, expires_on=expires_on,
                                reasons=reasons, by=who.as_actor, at=self.clock.now(),
                                article=consent_article(profile, case.consents.get(consent_id, {}).get("action")))
            if granted:
                return "consent_grant", {"consent_id": consent_id, "conditions": conditions,
                                         "expires_on": expires_on}
            return "consent_denial", {"consent_id": consent_id, "reasons": reasons}
        return self.cases._step(who, case_id, act)

    def tighten_restrictions(self, who: Principal, case_id: UUID, item_id: str,
                             restrictions: dict[str, Any]) -> AssistanceCase:
        """Notify a stricter restriction on an item already provided (JP-NO Art. 8(2)): a new event, never an edit."""
        def act(case, profile):
            current = case.items_by_id.get(item_id)
            new = tighten(profile, current["restrictions"], restrictions, "restrictions") if current else restrictions
            case.tighten_restrictions(item_id=item_id, restrictions=new, by=who.as_actor, at=self.clock.now(),
                                      article=profile.cite(profile.raw["disclosure"]["restriction_notice_article"]))
            return "restriction_notice", {"item_id": item_id, "restrictions": new}
        return self.cases._step(who, case_id, act)
