"""Wire schemas of the node's API. Unknown fields are rejected everywhere."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.directory import OFFICIAL_ID_PATTERN
from service.http.input_rules import DateOfBirth, Strict

Text = Annotated[str, Field(max_length=20_000)]
Short = Annotated[str, Field(min_length=1, max_length=200)]
AdminCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$", description="ISO 3166 alpha-2 code")]
OfficialId = Annotated[str, Field(pattern=OFFICIAL_ID_PATTERN)]
Kind = Literal[
    "information", "lawful_movement_check", "special_surveillance", "enquiry",
    "service_of_documents", "recovery_of_claim",
]


# -- requests ------------------------------------------------------------------------
class Identifier(Strict):
    scheme: Short = Field(description="e.g. passport, national_id, company_registration, eori")
    value: Short


PERSONAL = {"x-personal-data": True}  # sealed under the data subject's key when stored (domain/personal_data.py)


class Target(Strict):
    """A person who is the target of the investigations (JP-NO Art. 11(4)(d)). Personal data:
    stored sealed under the person's own key, erased with it (JP-NO Art. 9(2))."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=PERSONAL)

    kind: Literal["natural", "legal"]
    name: Short
    date_of_birth: DateOfBirth | None = None
    nationality: Annotated[str, Field(max_length=2)] | None = None
    address: Annotated[str, Field(max_length=500)] | None = None
    identifiers: list[Identifier] = Field(default_factory=list, max_length=20)
    role: Annotated[str, Field(max_length=200)] | None = None


class RecoveryClaim(Strict):
    """A claim to recover (Nordic Art. 10)."""

    amount: Annotated[str, Field(pattern=r"^\d{1,15}(\.\d{1,2})?$")]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    enforcement_title: Annotated[str, Field(max_length=2000)] = ""
    enforceable: bool = False
    limitation_date: date | None = None
    not_recoverable_at_home: bool = False


class Surveillance(Strict):
    """Special surveillance (JP-NO Art. 4): reports over time."""

    subjects: list[Short] = Field(default_factory=list, max_length=50)
    report_every_days: int | None = Field(None, ge=1, le=365)
    until: date | None = None


class RequestContentIn(Strict):
    action_requested: Text = Field("", json_schema_extra=PERSONAL)
    reason: Text = Field("", json_schema_extra=PERSONAL)
    case_description: Text = Field("", json_schema_extra=PERSONAL)
    laws_involved: list[Annotated[str, Field(max_length=500)]] = Field(default_factory=list, max_length=50)
    targets: list[Target] = Field(default_factory=list, max_length=100)
    reciprocity_notice: Text | None = Field(
        None, description="Set when the requester could not itself execute such a request (JP-NO Art. 14(3))")
    document_summary: Text | None = Field(None, json_schema_extra=PERSONAL)
    recovery: RecoveryClaim | None = None
    surveillance: Surveillance | None = None


class CaseRequestCreate(Strict):
    """A request for assistance made by this administration."""

    agreement: Short
    partner_administration: AdminCode
    kind: Kind
    language: Annotated[str, Field(pattern=r"^[a-z]{2}$")]
    addressed_to: list[OfficialId] = Field(default_factory=list, max_length=20)
    content: RequestContentIn


class ReceivedRequestCreate(CaseRequestCreate):
    """A partner's request that reached this administration outside the exchange."""

    channel: Literal["written", "oral"] = "written"


class Restrictions(Strict):
    """Use restrictions set by the provider (JP-NO Art. 3(4), 7, 8(2), 9(2))."""

    purposes: list[Short] | None = None
    confidentiality: Short | None = None
    use_conditions: list[Annotated[str, Field(max_length=2000)]] = Field(default_factory=list, max_length=20)
    law_enforcement_onward: bool | None = None
    retention_days: int | None = Field(None, ge=1, le=36_500)


class InformationItemIn(Strict):
    item_id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")] | None = None
    title: Short
    content: Text
    personal_data: bool = Field(False, description="The title and content hold personal data: stored sealed "
                                "under the keys of the case's data subjects (JP-NO Art. 9(2))")
    restrictions: Restrictions = Field(default_factory=Restrictions)


class SpontaneousAssistanceCreate(Strict):
    agreement: Short
    partner_administration: AdminCode
    language: Annotated[str, Field(pattern=r"^[a-z]{2}$")] = "en"
    addressed_to: list[OfficialId] = Field(default_factory=list, max_length=20)
    relevance: Text = Field(description="Why it matters for preventing serious customs offences (JP-NO Art. 5)")
    case_description: Text = ""
    targets: list[Target] = Field(default_factory=list, max_length=100, description="The persons the information "
                                  "concerns: their personal data is sealed under their keys (JP-NO Art. 9(2))")
    items: list[InformationItemIn] = Field(min_length=1, max_length=100)


# -- steps on a case -------------------------------------------------------------
class Forwarding(Strict):
    authority: Short
    reason: Text = ""


class Reply(Strict):
    items: list[InformationItemIn] = Field(min_length=1, max_length=100)
    final: bool = True
    partial_reasons: Text | None = Field(None, description="Set when assistance is given only in part (Art. 14(2))")
    conditions: list[Annotated[str, Field(max_length=2000)]] = Field(default_factory=list, max_length=20)


class Refusal(Strict):
    grounds: list[Short] = Field(min_length=1, max_length=10)
    # Required: checked with the case so that a refusal without reasons is told its article
    # (JP-NO Art. 12(3), 14(5)), not only that a field is missing.
    reasons: Text | None = Field(None, description="Required: the reasons, sent to the requester "
                                                   "(JP-NO Art. 12(3), 14(5); Nordic Art. 8(2))")


class Postponement(Strict):
    reasons: Text | None = Field(None, description="Required: the reasons, sent to the requester (JP-NO Art. 14(5))")
    until: date | None = None


class Consultation(Strict):
    subject: Literal["postponement_terms", "extraordinary_costs"]
    message: Text


class WrittenConfirmation(Strict):
    reference: Short = Field(description="Reference of the written confirmation document")


class Closure(Strict):
    reason: Text


# -- views -------------------------------------------------------------------------
class WrittenConfirmationState(BaseModel):
    due_by: datetime | None
    confirmed_at: datetime | None
    overdue: bool


class CasePublic(BaseModel):
    id: UUID
    reference: str
    agreement: str
    side: str
    kind: str
    status: str
    own_administration: str
    partner_administration: str
    language: str
    channel: str
    content: dict[str, Any]
    addressed_to: list[str]
    opened_by: dict[str, str]
    opened_at: datetime
    written_confirmation: WrittenConfirmationState | None
    items: list[dict[str, Any]]
    forwarded_to: str | None
    refusal: dict[str, Any] | None
    postponement: dict[str, Any] | None
    consultations: list[dict[str, Any]]
    conditions: list[str]
    partial: bool
    exchange_id: UUID | None = Field(None, description="The id both nodes use for this case on the wire")
    deliveries: list[dict[str, Any]] = Field(default_factory=list, description="Envelopes this node sent on the case")
    consents: dict[str, dict[str, Any]] = Field(default_factory=dict)
    notices: dict[str, dict[str, Any]] = Field(default_factory=dict)
    disclosures: list[dict[str, Any]] = Field(default_factory=list)
    refused_attempts: list[dict[str, Any]] = Field(default_factory=list)
    version: int


class CasesPublic(BaseModel):
    data: list[CasePublic]
    count: int
    next_after: int = Field(description="Pass as `after` to read the next page")


class CaseEventPublic(BaseModel):
    version: int
    event: str
    recorded_at: datetime
    by: dict[str, str] | str | None
    at: datetime | None
    articles: list[str]
    data: dict[str, Any]


class CaseHistoryPublic(BaseModel):
    case_id: UUID
    data: list[CaseEventPublic]
    count: int


# -- directory -------------------------------------------------------------------------
class OfficialCreate(Strict):
    official_id: OfficialId
    name: Short
    email: Annotated[str, Field(max_length=320)] = ""
    roles: list[Literal["official", "auditor", "dpo", "operator"]] = Field(min_length=1)


class Revocation(Strict):
    reason: Text


class PartnerCreate(Strict):
    administration: AdminCode
    name: Short
    agreements: list[Short] = Field(min_length=1, max_length=10)
    endpoint: Annotated[str, Field(max_length=500)] | None = None
    languages: list[Annotated[str, Field(pattern=r"^[a-z]{2}$")]] = Field(
        default_factory=list, description="Extra languages agreed bilaterally (Nairobi Art. 7(2))")


class PartnerOfficialCreate(Strict):
    official_id: OfficialId
    name: Short


class DirectoryPublic(BaseModel):
    administration: str
    name: str
    officials: dict[str, dict[str, Any]]
    partners: dict[str, dict[str, Any]]
    periods: dict[str, dict[str, Any]]


class SubjectIdentifiers(Strict):
    """Identifiers of a data subject: a name with date of birth, or document numbers / company ids."""

    name: Annotated[str, Field(max_length=200)] = ""
    date_of_birth: DateOfBirth | None = None
    identifiers: list[Identifier] = Field(default_factory=list, max_length=20)


class SubjectQuery(Strict):
    subject: SubjectIdentifiers


class Rectification(Strict):
    subject: SubjectIdentifiers
    case_id: UUID
    corrected: Target
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class RestrictionCreate(Strict):
    subject: SubjectIdentifiers
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class RestrictionPublic(BaseModel):
    subject_id: str
    since: str
    by: str
    reason: str


class Erasure(Strict):
    subject: SubjectIdentifiers
    rule: Annotated[str, Field(min_length=1, max_length=500, description="e.g. 'GDPR Art. 17, request DPO-2026-14'")]


class ErasureDone(BaseModel):
    subject_id: str
    rule: str
    keys_erased: int
    cases: list[dict[str, Any]]


class SweepDone(BaseModel):
    at: str
    keys_erased: int
    cases: list[dict[str, Any]]


class AccessReport(BaseModel):
    subject_id: str
    restricted: dict[str, Any] | None
    generated_at: str
    article: str
    cases: list[dict[str, Any]]


class ActivityPublic(BaseModel):
    data: list[dict[str, Any]]
    count: int
