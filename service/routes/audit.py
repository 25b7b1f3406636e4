"""Audit: the node's signed checkpoints and Merkle proofs (RFC 9162)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from service.deps import CurrentPrincipal, NodeDep

router = APIRouter(prefix="/audit", tags=["audit"])


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
def read_inclusion_proof(case_id: UUID, version: int, node: NodeDep,
                         who: CurrentPrincipal,
                         size: Annotated[int | None, Query(ge=1, le=2**62)] = None) -> InclusionProofPublic:
    """RFC 9162 §2.1.3 inclusion proof of one event of a case in the log (auditor)."""
    return InclusionProofPublic(**node.audit.inclusion(who, case_id, version, size))
