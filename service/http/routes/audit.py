"""Audit: the node's signed checkpoints and Merkle proofs (RFC 9162)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import Path, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from service.http.routing import NodeRouter
from service.http.deps import NodeDep
from service.http.roles import Auditor
from service.http.schemas import CaseEventPublic, CasePublic
from service.http.views import case_public, event_public

router = NodeRouter(prefix="/audit", tags=["audit"])


class CheckpointPublic(BaseModel):
    origin: str
    tree_size: int
    root: str
    note: str
    node_key_fingerprint: str


class InclusionProofPublic(BaseModel):
    leaf_index: int
    leaf_hash: str
    tree_size: int
    root: str
    proof: list[str]


class ConsistencyProofPublic(BaseModel):
    old_size: int
    new_size: int
    old_root: str
    new_root: str
    proof: list[str]


class FindingPublic(BaseModel):
    rule: str
    article: str
    version: int | None
    detail: str


class ReplayPublic(BaseModel):
    case: CasePublic
    events: list[CaseEventPublic]
    findings: list[FindingPublic]
    as_of: datetime | None


@router.get("/cases/{case_id}/replay", response_model=ReplayPublic)
def replay_case(case_id: UUID, node: NodeDep, who: Auditor,
                purpose: Annotated[str, Query(min_length=3, max_length=500, description="Why the auditor reads it")],
                as_of: datetime | None = None) -> ReplayPublic:
    """Replay a case as it stood at ``as_of`` (default: now) and check it against the treaty rules:
    disclosure without a valid basis (JP-NO Art. 7(2)), Art. 14(1) disclosure without advance notice,
    refusal without reasons (Art. 12(3)), oral request never confirmed (Art. 11(3)), personal data kept
    past retention (Art. 9(2)), reply overdue (Art. 12(1)). Auditors only; the read is recorded."""
    case, events, found = node.audit.replay(who, case_id, as_of, purpose)
    restricted = node.dpo.on_read(who, case, "audit replay", purpose)
    return ReplayPublic(case=case_public(case, as_of or node.clock.now(), restricted),
                        events=[event_public(e, restricted) for e in events],
                        findings=[FindingPublic(**f.__dict__) for f in found], as_of=as_of)


@router.get("/checkpoint", response_model=CheckpointPublic)
def read_latest_checkpoint(node: NodeDep) -> CheckpointPublic:
    """The latest signed checkpoint (C2SP signed note: origin, tree size, root), public so that
    partners can keep the node's history commitments. Holds no case data."""
    checkpoint = node.audit.latest()
    return CheckpointPublic(origin=checkpoint.origin, tree_size=checkpoint.size, root=checkpoint.root.hex(),
                            note=checkpoint.note, node_key_fingerprint=node.exchange.node_fingerprint())


@router.get("/proofs/consistency", response_model=ConsistencyProofPublic)
def read_consistency_proof(node: NodeDep, old_size: Annotated[int, Query(ge=1, le=2**62)],
                           new_size: Annotated[int, Query(ge=1, le=2**62)]) -> ConsistencyProofPublic:
    """RFC 9162 §2.1.4 consistency proof between two tree sizes (public: partners check that a
    newer checkpoint extends the one they hold)."""
    return ConsistencyProofPublic(**node.audit.consistency(old_size, new_size))


@router.get("/cases/{case_id}/events/{version}/inclusion", response_model=InclusionProofPublic)
def read_inclusion_proof(case_id: UUID, version: Annotated[int, Path(ge=1, le=2**62)], node: NodeDep,
                         who: Auditor,
                         size: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                         purpose: Annotated[str, Query(min_length=3, max_length=500)] = "inclusion proof",
                         ) -> InclusionProofPublic:
    """RFC 9162 §2.1.3 inclusion proof of one event of a case in the log (auditor; the read is recorded)."""
    return InclusionProofPublic(**node.audit.inclusion(who, case_id, version, size, purpose))


@router.get("/bundle", response_class=StreamingResponse,
            responses={200: {"content": {"application/json": {}}, "description": "An audit bundle (JSON), as "
                             "`cmaa audit verify` reads it"}})
def read_audit_bundle(node: NodeDep, who: Auditor,
                      purpose: Annotated[str, Query(min_length=3, max_length=500, description="Why the auditor "
                                                    "reads it (recorded)")],
                      case_id: UUID | None = None, since: datetime | None = None,
                      until: datetime | None = None) -> StreamingResponse:
    """An audit bundle of the whole log, of one case, or of the events stored in a time range: events as
    stored, Merkle leaves and proofs, the latest signed checkpoint with partners' cosignatures, and the
    node key. Auditors only; the read is recorded. Verify it offline with `cmaa audit verify FILE`, or
    in one step with `cmaa audit verify https://node --token-file ...`."""
    bundle = node.audit_bundle(who, case_id, since, until, purpose)
    # Streamed as it is encoded: a whole log's bundle is never held twice as one string.
    return StreamingResponse(json.JSONEncoder().iterencode(bundle), media_type="application/json")
