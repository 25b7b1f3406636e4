"""Agreements: the profiles this node enforces and the period each binds."""

from __future__ import annotations


from service.http.routing import NodeRouter
from service.http.deps import NodeDep
from service.http.roles import AnyRole, Operator
from service.http.agreement_schemas import (AgreementParameterUpdate, AgreementPeriodUpdate, AgreementPublic,
                                            AgreementsPublic)
from service.http.schemas import Short

router = NodeRouter(prefix="/agreements", tags=["agreements"])


def _public(node, profile, directory) -> AgreementPublic:
    period = directory.period(profile)
    return AgreementPublic(id=profile.id, short=profile.short, title=profile.title,
                           in_force_from=period.in_force_from, terminated_from=period.terminated_from,
                           in_force_today=period.covers(node.clock.now().date()),
                           profile=directory.terms(profile).raw, parameters=directory.parameters_of(profile))


@router.get("", response_model=AgreementsPublic)
def list_agreements(node: NodeDep, who: AnyRole) -> AgreementsPublic:
    """Every agreement profile with its period in force."""
    directory = node.directory.directory()
    data = [_public(node, p, directory) for p in node.agreements]
    return AgreementsPublic(data=data, count=len(data))


@router.put("/{agreement_id}/period", response_model=AgreementPublic)
def record_agreement_period(agreement_id: Short, body: AgreementPeriodUpdate, node: NodeDep,
                            who: Operator) -> AgreementPublic:
    """Record the notified entry into force, or a termination notice: it takes effect after
    the agreement's notice period (JP-NO Art. 19(1): three months; Nairobi Art. 19(3): six)."""
    who.require("operator")
    directory = node.directory.record_agreement_period(by=who.official_id, agreement=agreement_id,
                                                       **body.model_dump())
    return _public(node, node.agreements.get(agreement_id), directory)


@router.put("/{agreement_id}/parameters/{parameter}", response_model=AgreementPublic)
def set_agreement_parameter(agreement_id: Short, parameter: Short, body: AgreementParameterUpdate, node: NodeDep,
                            who: Operator) -> AgreementPublic:
    """Set a deployment parameter the profile leaves to the parties (its ``deployment_parameters``), e.g.
    ``recovery.minimum`` of ``nordic-1981`` (Nordic Art. 10(2): the claim must exceed it; the amounts
    are agreed in the guidelines under Art. 13). Recorded as a directory event with who and when."""
    who.require("operator")
    directory = node.directory.set_agreement_parameter(by=who.official_id, agreement=agreement_id,
                                                       parameter=parameter, value=body.value)
    return _public(node, node.agreements.get(agreement_id), directory)
