"""Aggregates and events to wire views."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import copy

from domain.agreements import distinct_citations
from domain.case import AssistanceCase
from domain.personal_data import TARGET, personal_parts, restricted_marker
from service.http.schemas import CaseEventPublic, CasePublic, WrittenConfirmationState

_ENVELOPE_FIELDS = {"originator_id", "originator_version", "timestamp", "originator_topic"}


def withhold(event_name: str, state: dict[str, Any], since: str) -> dict[str, Any]:
    """A copy of ``state`` with its personal data replaced by the restriction marker (JP-NO Art. 9(2))."""
    state = copy.deepcopy(state)
    marker = restricted_marker(since)
    for part in personal_parts(event_name, state):
        part.container[part.key] = {"restricted": marker} if part.kind == TARGET else marker
    return state


def case_public(case: AssistanceCase, now: datetime, restricted: dict | None = None) -> CasePublic:
    content, items = case.content, case.items
    if restricted:
        hidden = withhold("Case", {"content": content, "items": items}, restricted["since"])
        content, items = hidden["content"], hidden["items"]
    confirmation = None
    if case.is_oral:
        confirmation = WrittenConfirmationState(
            due_by=case.confirmation_due_by,
            confirmed_at=case.confirmed_in_writing_at,
            overdue=case.confirmation_overdue(now),
        )
    return CasePublic(
        id=case.id,
        reference=case.reference,
        agreement=case.agreement,
        side=case.side,
        kind=case.kind,
        status=case.status,
        own_administration=case.own_administration,
        partner_administration=case.partner_administration,
        language=case.language,
        channel=case.channel,
        content=content,
        addressed_to=case.addressed_to,
        opened_by=case.opened_by,
        opened_at=case.opened_at,
        written_confirmation=confirmation,
        items=items,
        forwarded_to=case.forwarded_to,
        refusal=case.refusal,
        postponement=case.postponement,
        consultations=case.consultations,
        conditions=case.conditions,
        partial=case.partial,
        exchange_id=case.exchange_id,
        deliveries=[{"envelope_id": k, **v} for k, v in case.deliveries.items()],
        consents=case.consents,
        notices=case.notices,
        disclosures=case.disclosures,
        refused_attempts=case.refused_attempts,
        version=case.version,
    )


def event_public(event: Any, restricted: dict | None = None) -> CaseEventPublic:
    data = {k: v for k, v in event.__dict__.items() if k not in _ENVELOPE_FIELDS}
    if restricted:
        data = withhold(type(event).__name__, data, restricted["since"])
    articles = data.pop("articles", None) or []
    if "article" in data:
        articles = [data.pop("article")]
    return CaseEventPublic(
        version=event.originator_version,
        event=type(event).__name__,
        recorded_at=event.timestamp,
        by=data.pop("by", None),
        at=data.pop("at", None),
        articles=distinct_citations(list(articles)),
        data=data,
    )
