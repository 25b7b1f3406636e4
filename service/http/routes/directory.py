"""Directory: this node's designated officials and its partners (operator)."""

from __future__ import annotations

from fastapi import status

from service.http.routing import NodeRouter
from service.http.deps import NodeDep
from service.http.roles import AnyRole, Operator
from service.http.schemas import (
    DirectoryPublic,
    OfficialCreate,
    OfficialId,
    PartnerCreate,
    PartnerOfficialCreate,
    Revocation,
)

router = NodeRouter(prefix="/directory", tags=["directory"])


def _public(directory) -> DirectoryPublic:
    return DirectoryPublic(administration=directory.administration, name=directory.name,
                           officials=directory.officials, partners=directory.partners, periods=directory.periods)


@router.get("", response_model=DirectoryPublic)
def read_directory(node: NodeDep, who: AnyRole) -> DirectoryPublic:
    """Designated officials of this administration and of its partners (JP-NO Art. 11(1))."""
    who.require("operator", "official", "auditor", "dpo")
    return _public(node.directory.directory())


@router.post("/officials", status_code=status.HTTP_201_CREATED, response_model=DirectoryPublic)
def designate_official(body: OfficialCreate, node: NodeDep, who: Operator) -> DirectoryPublic:
    """Designate an official of this administration with roles (operator only)."""
    who.require("operator")
    return _public(node.designate_official(by=who.official_id, **body.model_dump()))


@router.post("/officials/{official_id}/revocation", response_model=DirectoryPublic)
def revoke_official(official_id: OfficialId, body: Revocation, node: NodeDep,
                    who: Operator) -> DirectoryPublic:
    """Revoke a designation; the official's credentials stop working at once."""
    who.require("operator")
    return _public(node.directory.revoke_official(by=who.official_id, official_id=official_id, reason=body.reason))


@router.post("/partners", status_code=status.HTTP_201_CREATED, response_model=DirectoryPublic)
def register_partner(body: PartnerCreate, node: NodeDep, who: Operator) -> DirectoryPublic:
    """Register a partner administration under the agreements that bind both."""
    who.require("operator")
    return _public(node.directory.register_partner(by=who.official_id, **body.model_dump()))


@router.post("/partners/{administration}/officials", status_code=status.HTTP_201_CREATED,
             response_model=DirectoryPublic)
def designate_partner_official(administration: str, body: PartnerOfficialCreate, node: NodeDep,
                               who: Operator) -> DirectoryPublic:
    """Record an official the partner designated and published (Nairobi Art. 6(1))."""
    who.require("operator")
    return _public(node.directory.designate_partner_official(
        by=who.official_id, administration=administration, **body.model_dump()))
