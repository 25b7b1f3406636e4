"""The published shape of an envelope's signed content (``docs/envelope-format.md``).

Inbound content from a partner is validated against these before it is used;
a partner need not run our code, so nothing is assumed about it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from service.http.schemas import (AdminCode, InformationItemIn, OfficialId, Reply, RequestContentIn, Restrictions, Short,
                             Target, Text)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Party(Strict):
    administration: AdminCode
    official: OfficialId


class Addressees(Strict):
    administration: AdminCode
    officials: list[OfficialId] = Field(min_length=1, max_length=20)


class CaseRef(Strict):
    exchange_id: Annotated[str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    opened_by: AdminCode
    reference: Short


class EnvelopePayload(Strict):
    v: Literal[1]
    id: Annotated[str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    created_at: AwareDatetime
    sent_at: AwareDatetime
    from_: Party = Field(alias="from")
    to: Addressees
    agreement: Short
    case: CaseRef
    kind: Short
    body: dict[str, Any]
    checkpoint: Annotated[str, Field(max_length=4096)] | None = None  # the sender's latest signed checkpoint


class RequestBody(Strict):
    kind: Literal["information", "lawful_movement_check", "special_surveillance", "enquiry",
                  "service_of_documents", "recovery_of_claim"]
    language: Annotated[str, Field(pattern=r"^[a-z]{2}$")]
    channel: Literal["written", "oral"]
    content: RequestContentIn


class RestrictionsWire(Restrictions):
    model_config = ConfigDict(extra="ignore")  # the sender's cited articles are recomputed here


class ItemOut(InformationItemIn):
    model_config = ConfigDict(extra="forbid")
    restrictions: RestrictionsWire = Field(default_factory=RestrictionsWire)


class SpontaneousBody(Strict):
    relevance: Text
    case_description: Text = ""
    targets: list[Target] = Field(default_factory=list, max_length=100)
    language: Annotated[str, Field(pattern=r"^[a-z]{2}$")] = "en"
    items: list[ItemOut] = Field(min_length=1, max_length=100)


class Empty(Strict):
    pass


class ForwardingBody(Strict):
    authority: Short
    reason: Text = ""


class ReplyBody(Reply):
    items: list[ItemOut] = Field(min_length=1, max_length=100)


class RefusalBody(Strict):
    grounds: list[Short] = Field(min_length=1, max_length=10)
    reasons: Annotated[str, Field(min_length=1, max_length=20_000)]


class PostponementBody(Strict):
    reasons: Annotated[str, Field(min_length=1, max_length=20_000)]
    until: str | None = None


class ConsultationBody(Strict):
    subject: Literal["postponement_terms", "extraordinary_costs"]
    message: Text


class ConfirmationBody(Strict):
    reference: Short


Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")]


class ConsentRequestBody(Strict):
    consent_id: Ident
    items: list[Ident] = Field(min_length=1, max_length=100)
    action: Literal["disclosure", "criminal_proceedings", "other_purpose"]
    recipient_authority: Short | None = None
    purpose: Short
    supporting_information: Text | None = None


class ConsentGrantBody(Strict):
    consent_id: Ident
    conditions: list[Annotated[str, Field(max_length=2000)]] = Field(default_factory=list, max_length=20)
    expires_on: str | None = None


class ConsentDenialBody(Strict):
    consent_id: Ident
    reasons: Annotated[str, Field(min_length=1, max_length=20_000)]


class RestrictionNoticeBody(Strict):
    item_id: Ident
    restrictions: RestrictionsWire


class AdvanceNoticeBody(Strict):
    notice_id: Ident
    items: list[Ident] = Field(min_length=1, max_length=100)
    recipient_authority: Short
    legal_provision: Short


class DisclosureNoticeBody(Strict):
    notice_id: Ident
    action: Literal["disclosure", "criminal_proceedings", "other_purpose"]
    items: list[Ident] = Field(min_length=1, max_length=100)
    purpose: Short
    basis: Literal["consent", "law_enforcement", "legal_obligation", "within_purpose"]
    recipient_authority: Short | None = None
    recipient_kind: Short | None = None
    consent_id: Ident | None = None
    legal_provision: Short | None = None
    advance_notice_id: Ident | None = None
    notice_impossible_reason: Text | None = None


class RectificationNoticeBody(Strict):
    """A target's record corrected by the sender's DPO (JP-NO Art. 9(2))."""

    target_index: int = Field(ge=0, le=99)
    value: Target
    reason: Annotated[str, Field(min_length=1, max_length=20_000)]


BODY_SCHEMAS: dict[str, type[BaseModel]] = {
    "rectification_notice": RectificationNoticeBody,
    "consent_request": ConsentRequestBody, "consent_grant": ConsentGrantBody, "consent_denial": ConsentDenialBody,
    "restriction_notice": RestrictionNoticeBody, "advance_notice": AdvanceNoticeBody,
    "disclosure_notice": DisclosureNoticeBody,
    "request": RequestBody, "spontaneous": SpontaneousBody, "acknowledgement": Empty,
    "forwarding": ForwardingBody, "reply": ReplyBody, "refusal": RefusalBody, "postponement": PostponementBody,
    "consultation": ConsultationBody, "written_confirmation": ConfirmationBody,
}

del datetime
