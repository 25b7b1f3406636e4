"""The data protection officer: access reports, rectification, restriction, erasure,
the retention sweep and the activity log (JP-NO Art. 9(2)).

Identifiers of a data subject travel only in request bodies (never in URLs, which
end up in access logs); every call needs the ``dpo`` role and is itself logged.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Query, status

from service.http.routing import NodeRouter
from service.http.deps import NodeDep, Purpose
from service.http.roles import Dpo
from service.http.schemas import (AccessReport, ActivityPublic, CasePublic, Erasure, ErasureDone, Rectification,
                             RestrictionCreate, RestrictionPublic, SubjectQuery, SweepDone)
from service.http.views import case_public

router = NodeRouter(prefix="/dpo", tags=["data protection"])
SubjectId = Annotated[str, "a pseudonymous subject id from an access report"]


@router.post("/access-reports", response_model=AccessReport)
def access_report(body: SubjectQuery, node: NodeDep, who: Dpo, purpose: Purpose = None) -> Any:
    """What this node holds on a data subject: every case, event and field, who provided it, to whom it
    was sent or disclosed and on what basis, and how long it is kept (the right of access)."""
    return node.dpo.access_report(who, body.subject.model_dump(mode="json"), purpose or "subject access request")


@router.post("/rectifications", response_model=CasePublic)
def rectify(body: Rectification, node: NodeDep, who: Dpo, purpose: Purpose = None) -> CasePublic:
    """Correct a target's record in a case by a new event (the original stays, as required); the partner
    administration that provided or received it is told through the exchange."""
    case = node.dpo.rectify(who, body.subject.model_dump(mode="json"), body.case_id,
                            body.corrected.model_dump(mode="json"), body.reason, purpose or "rectification")
    return case_public(case, node.clock.now())


@router.post("/restrictions", status_code=status.HTTP_201_CREATED, response_model=RestrictionPublic)
def restrict(body: RestrictionCreate, node: NodeDep, who: Dpo, purpose: Purpose = None) -> Any:
    """Restrict processing of a subject's data: officials' reads are withheld, disclosures and envelopes
    carrying it refused, until the restriction is lifted."""
    return node.dpo.restrict(who, body.subject.model_dump(mode="json"), body.reason, purpose or "restriction")


@router.delete("/restrictions/{subject_id}", status_code=status.HTTP_204_NO_CONTENT)
def lift_restriction(subject_id: SubjectId, node: NodeDep, who: Dpo, purpose: Purpose = None) -> None:
    node.dpo.lift(who, subject_id, purpose or "restriction lifted")


@router.post("/erasures", response_model=ErasureDone)
def erase(body: Erasure, node: NodeDep, who: Dpo, purpose: Purpose = None) -> Any:
    """Erase a subject's personal data everywhere on this node: its keys are destroyed; the events and the
    audit chain stay and still verify; reads show "erased on DATE under RULE"."""
    return node.dpo.erase(who, body.subject.model_dump(mode="json"), body.rule, purpose or "erasure")


@router.post("/retention-sweeps", response_model=SweepDone)
def sweep(node: NodeDep, who: Dpo) -> Any:
    """Run the retention sweep now (it also runs on a schedule): erase what has outlived its retention."""
    who.require("dpo")
    done = node.dpo.sweep(by=who.as_actor)
    node.dpo._log(who, "retention sweep", "retention (JP-NO Art. 9(2))")
    return done


@router.get("/activity", response_model=ActivityPublic)
def activity(node: NodeDep, who: Dpo, subject_id: Annotated[str | None, Query(max_length=64)] = None,
             official: Annotated[str | None, Query(max_length=64)] = None,
             limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> Any:
    """Who read or changed personal data, when, and why (the purpose they gave)."""
    rows = node.dpo.activity(who, subject_id=subject_id, official=official, limit=limit)
    return {"data": rows, "count": len(rows)}


del UUID
