"""Cases: request, receive, work and read mutual-assistance cases."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import Query, status

from domain.errors import InvalidInput
from domain.case_states import PROVIDING, RECEIVING, REQUESTED, REQUESTING, STATES
from service.http.routing import NodeRouter
from service.http.deps import NodeDep, Purpose
from service.http.roles import Official, Reader
from service.http.schemas import (
    CaseHistoryPublic,
    CasePublic,
    CaseRequestCreate,
    CasesPublic,
    Kind,
    Closure,
    Consultation,
    Forwarding,
    Postponement,
    ReceivedRequestCreate,
    Refusal,
    Reply,
    SpontaneousAssistanceCreate,
    WrittenConfirmation,
)
from service.http.views import case_public, event_public

router = NodeRouter(prefix="/cases", tags=["cases"])
Side = Literal[REQUESTING, REQUESTED, PROVIDING, RECEIVING]
Status = Literal[tuple(sorted({state for states in STATES.values() for state in states}))]
CaseId = Annotated[UUID, "the case id"]
CREATED = {"status_code": status.HTTP_201_CREATED, "response_model": CasePublic}


def _view(node, case) -> CasePublic:
    return case_public(case, node.clock.now())


@router.post("", **CREATED)
def request_assistance(body: CaseRequestCreate, node: NodeDep, who: Official) -> CasePublic:
    """Make a written request for assistance (JP-NO Art. 11(2),(4); Nairobi Art. 7; Nordic Art. 6).

    Refused with 422 and the article when the agreement is not in force between
    the two administrations, the kind of assistance or the language is not
    allowed, or a required element is missing.
    """
    return _view(node, node.cases.request_assistance(who, body.model_dump(mode="json")))


@router.post("/oral", **CREATED)
def record_oral_request(body: CaseRequestCreate, node: NodeDep, who: Official) -> CasePublic:
    """Record an urgent oral request now; its written confirmation is owed (JP-NO Art. 11(3))."""
    return _view(node, node.cases.request_assistance(who, body.model_dump(mode="json"), oral=True))


@router.post("/received", **CREATED)
def record_received_request(body: ReceivedRequestCreate, node: NodeDep, who: Official) -> CasePublic:
    """Open the requested side's case for a partner's request received in writing or orally."""
    return _view(node, node.cases.record_received_request(who, body.model_dump(mode="json")))


@router.post("/spontaneous", **CREATED)
def provide_spontaneous_assistance(body: SpontaneousAssistanceCreate, node: NodeDep,
                                   who: Official) -> CasePublic:
    """Give information without a request (JP-NO Art. 5), each item with its use restrictions."""
    return _view(node, node.cases.provide_spontaneously(who, body.model_dump(mode="json")))


@router.get("", response_model=CasesPublic)
def list_cases(node: NodeDep, who: Reader,
               after: Annotated[int, Query(ge=0, le=2**62)] = 0,
               limit: Annotated[int, Query(ge=1, le=500)] = 50,
               overdue_confirmation: bool = False, purpose: Purpose = None,
               side: Annotated[Side | None, Query(description="The side this node holds")] = None,
               kind: Annotated[Kind | None, Query(description="The kind of assistance")] = None,
               partner: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$",
                                                    description="The partner administration")] = None,
               status: Annotated[Status | None, Query(description="The case's status now")] = None,
               agreement: Annotated[str | None, Query(max_length=64, description="The agreement's id")] = None,
               ) -> CasesPublic:
    """Every case this node holds — requested, received, given or received spontaneously — in the
    order they were opened, filtered by ``side``, ``kind``, ``partner``, ``status`` and ``agreement``.
    ``overdue_confirmation`` lists oral requests whose written confirmation is overdue (JP-NO Art. 11(3))."""
    if agreement is not None:
        known = sorted(profile.id for profile in node.agreements)
        if agreement not in known:  # an enumerable filter: an unknown value is a mistake, not an empty list
            raise InvalidInput(f"unknown agreement {agreement}; this node knows {', '.join(known)}",
                               field="query.agreement")
    filters = {"side": side, "kind": kind, "partner_administration": partner, "status": status,
               "agreement": agreement}
    cases, cursor = node.cases.list(who, after=after, limit=limit, overdue_only=overdue_confirmation,
                                    filters={k: v for k, v in filters.items() if v is not None})
    return CasesPublic(data=[_read(node, who, c, "list cases", purpose) for c in cases], count=len(cases),
                       next_after=cursor)


@router.get("/{case_id}", response_model=CasePublic)
def read_case(case_id: CaseId, node: NodeDep, who: Reader, purpose: Purpose = None) -> CasePublic:
    """The case as it stands now. A read of personal data is recorded with the purpose given in
    ``X-Purpose``; data whose processing the DPO restricted is withheld (JP-NO Art. 9(2))."""
    return _read(node, who, node.cases.get(who, case_id), "read case", purpose)


@router.get("/{case_id}/history", response_model=CaseHistoryPublic)
def read_case_history(case_id: CaseId, node: NodeDep, who: Reader,
                      purpose: Purpose = None) -> CaseHistoryPublic:
    """Every event of the case in order, each with who, when and the article it rests on."""
    case = node.cases.get(who, case_id)
    restricted = node.dpo.on_read(who, case, "read case history", purpose)
    events = [event_public(e, restricted) for e in node.cases.history(who, case_id)]
    return CaseHistoryPublic(case_id=case_id, data=events, count=len(events))


def _read(node, who, case, action: str, purpose: str | None) -> CasePublic:
    return case_public(case, node.clock.now(), node.dpo.on_read(who, case, action, purpose))


@router.post("/{case_id}/deliveries/{envelope_id}/resend", response_model=CasePublic)
def resend_envelope(case_id: CaseId, envelope_id: str, node: NodeDep, who: Official) -> CasePublic:
    """Send again an envelope the partner refused (``deliveries[].status`` ``rejected``, with its signed
    rejection in the history) once the cause is fixed — e.g. the partner has since imported our directory.
    The same envelope, sealed afresh; ``EnvelopeResent`` records who and when. A refused consent answer
    is answered anew instead (its consent is open again)."""
    return _view(node, node.cases.resend(who, case_id, envelope_id))


@router.post("/{case_id}/acknowledgement", response_model=CasePublic)
def acknowledge_request(case_id: CaseId, node: NodeDep, who: Official) -> CasePublic:
    """Acknowledge a received request (JP-NO Art. 12(1))."""
    return _view(node, node.cases.acknowledge(who, case_id))


@router.post("/{case_id}/forwarding", response_model=CasePublic)
def forward_request(case_id: CaseId, body: Forwarding, node: NodeDep, who: Official) -> CasePublic:
    """Transmit the request to the appropriate authority (JP-NO Art. 12(2))."""
    return _view(node, node.cases.forward(who, case_id, authority=body.authority, reason=body.reason))


@router.post("/{case_id}/replies", response_model=CasePublic)
def reply_to_request(case_id: CaseId, body: Reply, node: NodeDep, who: Official) -> CasePublic:
    """Reply with information items, each carrying the provider's use restrictions
    (JP-NO Art. 3(4), 8(2)); partly or under conditions (Art. 14(2)); ``final=false`` for
    interim replies and special-surveillance reports (Art. 4)."""
    return _view(node, node.cases.reply(
        who, case_id, items=[i.model_dump(mode="json") for i in body.items], final=body.final,
        partial_reasons=body.partial_reasons, conditions=body.conditions))


@router.post("/{case_id}/refusal", response_model=CasePublic)
def refuse_request(case_id: CaseId, body: Refusal, node: NodeDep, who: Official) -> CasePublic:
    """Refuse, with grounds and reasons (JP-NO Art. 12(3), 14(2),(5); Nairobi Art. 3; Nordic Art. 8)."""
    return _view(node, node.cases.refuse(who, case_id, grounds=body.grounds, reasons=body.reasons))


@router.post("/{case_id}/postponement", response_model=CasePublic)
def postpone_request(case_id: CaseId, body: Postponement, node: NodeDep, who: Official) -> CasePublic:
    """Postpone assistance, with reasons (JP-NO Art. 14(4),(5))."""
    until = body.until.isoformat() if body.until else None
    return _view(node, node.cases.postpone(who, case_id, reasons=body.reasons, until=until))


@router.post("/{case_id}/consultations", response_model=CasePublic)
def open_consultation(case_id: CaseId, body: Consultation, node: NodeDep, who: Official) -> CasePublic:
    """Consult the requesting administration (JP-NO Art. 14(4) terms, Art. 15(2) costs)."""
    return _view(node, node.cases.open_consultation(who, case_id, subject=body.subject, message=body.message))


@router.post("/{case_id}/written-confirmation", response_model=CasePublic)
def confirm_in_writing(case_id: CaseId, body: WrittenConfirmation, node: NodeDep,
                       who: Official) -> CasePublic:
    """Record the written confirmation of an oral request (JP-NO Art. 11(3))."""
    return _view(node, node.cases.confirm_in_writing(who, case_id, reference=body.reference))


@router.post("/{case_id}/written-confirmation-required", response_model=CasePublic)
def require_written_confirmation(case_id: CaseId, node: NodeDep, who: Official) -> CasePublic:
    """As the requested side, require written confirmation of an oral request (Nairobi Art. 7(4))."""
    return _view(node, node.cases.require_written_confirmation(who, case_id))


@router.post("/{case_id}/closure", response_model=CasePublic)
def close_case(case_id: CaseId, body: Closure, node: NodeDep, who: Official) -> CasePublic:
    """Close the case on this node."""
    return _view(node, node.cases.close(who, case_id, reason=body.reason))
