"""Information control: consent, restriction notices, advance notices, disclosures (JP-NO Art. 7-10, 14(1))."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal
from uuid import UUID

from fastapi import status
from pydantic import Field

from domain.disclosure import DisclosureRequest
from service.http.routing import NodeRouter
from service.http.deps import NodeDep
from service.http.roles import Official
from service.http.schemas import CasePublic, Restrictions, Short, Strict, Text
from service.http.views import case_public

router = NodeRouter(prefix="/cases/{case_id}", tags=["information"])
Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")]
Action = Literal["disclosure", "criminal_proceedings", "other_purpose"]


class ConsentRequestCreate(Strict):
    items: list[Ident] = Field(min_length=1, max_length=100)
    action: Action
    recipient_authority: Short | None = Field(None, description="For a disclosure: the authority to receive it")
    purpose: Short
    supporting_information: Text | None = Field(None, description="JP-NO Art. 10(3)")


class ConsentGrant(Strict):
    conditions: list[Annotated[str, Field(max_length=2000)]] = Field(default_factory=list, max_length=20)
    expires_on: date | None = None


class ConsentDenial(Strict):
    reasons: Text


class AdvanceNoticeCreate(Strict):
    items: list[Ident] = Field(min_length=1, max_length=100)
    recipient_authority: Short
    legal_provision: Short


class DisclosureCreate(Strict):
    items: list[Ident] = Field(min_length=1, max_length=100)
    action: Action = "disclosure"
    purpose: Short
    basis: Literal["consent", "law_enforcement", "legal_obligation", "within_purpose"]
    recipient_authority: Short | None = None
    recipient_kind: Literal["law_enforcement", "other_authority"] | None = None
    consent_id: Ident | None = None
    legal_provision: Short | None = None
    advance_notice_id: Ident | None = None
    notice_impossible_reason: Text | None = None


def _view(node, case) -> CasePublic:
    return case_public(case, node.clock.now())


@router.post("/consent-requests", status_code=status.HTTP_201_CREATED, response_model=CasePublic)
def request_consent(case_id: UUID, body: ConsentRequestCreate, node: NodeDep, who: Official) -> CasePublic:
    """Ask the providing administration for express written consent to communicate information to
    another authority, use it in criminal proceedings, or use it for another purpose
    (JP-NO Art. 7(2), 10(2),(3); Nairobi Art. 5(2); Nordic Art. 7(2)). Travels as a signed envelope."""
    return _view(node, node.consent.request_consent(who, case_id, **body.model_dump()))


@router.post("/consents/{consent_id}/grant", response_model=CasePublic)
def grant_consent(case_id: UUID, consent_id: Ident, body: ConsentGrant, node: NodeDep,
                  who: Official) -> CasePublic:
    """As the provider, grant a consent request, with conditions and an expiry."""
    expires = body.expires_on.isoformat() if body.expires_on else None
    return _view(node, node.consent.answer_consent(who, case_id, consent_id, granted=True,
                                                   conditions=body.conditions, expires_on=expires, reasons=None))


@router.post("/consents/{consent_id}/denial", response_model=CasePublic)
def deny_consent(case_id: UUID, consent_id: Ident, body: ConsentDenial, node: NodeDep,
                 who: Official) -> CasePublic:
    """As the provider, deny a consent request, with reasons."""
    return _view(node, node.consent.answer_consent(who, case_id, consent_id, granted=False, conditions=[],
                                                   expires_on=None, reasons=body.reasons))


@router.post("/items/{item_id}/restrictions", response_model=CasePublic)
def tighten_restrictions(case_id: UUID, item_id: Ident, body: Restrictions, node: NodeDep,
                         who: Official) -> CasePublic:
    """As the provider, tighten an item's use restrictions by notice (JP-NO Art. 8(2)); never loosen."""
    return _view(node, node.consent.tighten_restrictions(who, case_id, item_id, body.model_dump()))


@router.post("/advance-notices", status_code=status.HTTP_201_CREATED, response_model=CasePublic)
def give_advance_notice(case_id: UUID, body: AdvanceNoticeCreate, node: NodeDep,
                        who: Official) -> CasePublic:
    """Notify the provider in advance of a disclosure the law obliges (JP-NO Art. 14(1))."""
    return _view(node, node.consent.give_advance_notice(who, case_id, **body.model_dump()))


@router.post("/disclosures", status_code=status.HTTP_201_CREATED, response_model=CasePublic)
def disclose_information(case_id: UUID, body: DisclosureCreate, node: NodeDep, who: Official) -> CasePublic:
    """Record a disclosure to another authority or a use (criminal proceedings, another purpose).
    Accepted only with a basis: a matching, unexpired consent; the law-enforcement path (JP-NO
    Art. 7(3)) unless the provider notified otherwise; or a legally mandated disclosure (Art. 14(1))
    with advance notice or the reason it was impossible. Otherwise refused with 422 naming the
    article — and the refused attempt is recorded. The provider is notified of disclosures."""
    data = body.model_dump()
    data["items"] = tuple(data["items"])
    return _view(node, node.consent.disclose(who, case_id, DisclosureRequest(**data)))
