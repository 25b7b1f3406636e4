"""Findings: a case's history replayed against the treaty rules.

Each finding names the rule, the article and the event it concerns. The node
refuses most of these as they happen; replaying them again catches what slipped
past — a bug, an edited store, or time passing (overdue confirmations, replies,
retention).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Iterable

from domain.agreements import AgreementProfile
from domain.case_states import UNANSWERED
from domain.disclosure import DisclosureRefused, DisclosureRequest, check_disclosure

REPLY_DUE_DAYS = 90  # node policy for "as soon as possible" (Nairobi Art. 6(3)); JP-NO Art. 12(1)


@dataclass(frozen=True)
class Finding:
    rule: str
    article: str
    version: int | None
    detail: str


def findings(profile: AgreementProfile, events: Iterable[Any], now: datetime) -> list[Finding]:
    """Replay ``events`` (one case, in order) and list what breaks the agreement's rules."""
    found: list[Finding] = []
    case = None
    cite = profile.cite
    received_on: dict[str, date] = {}
    for event in events:
        before = case
        status_before = case.status if case is not None else None  # mutate() changes the case in place
        case = event.mutate(case)
        name = type(event).__name__
        for item in case.items:  # when each item arrived: retention runs from then (JP-NO Art. 9(2))
            received_on.setdefault(item["item_id"], event.at.date())
        if name in ("InformationDisclosed", "InformationUsed"):
            request = DisclosureRequest(**{k: (tuple(v) if k == "items" else v) for k, v in event.request.items()})
            try:
                check_disclosure(profile, before.items_by_id, before.consents, before.notices, request,
                                 event.at.date())
            except DisclosureRefused as error:
                found.append(Finding("disclosure-without-basis", error.article or "", event.originator_version,
                                     error.detail))
            if request.basis == "legal_obligation" and not request.advance_notice_id:
                found.append(Finding("mandated-disclosure-without-advance-notice",
                                     cite(profile.raw["disclosure"]["legal_obligation"]["article"]),
                                     event.originator_version,
                                     f"no advance notice; reason given: {request.notice_impossible_reason or 'none'}"))
        elif name == "RequestRefused" and not str(event.reasons).strip():
            found.append(Finding("refusal-without-reasons", profile.article("refusal_reasons_article"),
                                 event.originator_version, "a refusal was recorded without reasons"))
        elif name == "CaseClosed" and case.side == "requested" and status_before in UNANSWERED:
            # JP-NO Art. 12(3), 14(5): a request not executed is refused, with reasons the requester is sent.
            found.append(Finding("closed-without-answer", profile.article("refusal_reasons_article"),
                                 event.originator_version,
                                 f"the request was closed while {status_before}, with neither a reply nor a "
                                 "refusal with reasons sent to the requester"))
        elif name == "RequestPostponed" and not str(event.reasons).strip():
            found.append(Finding("postponement-without-reasons", profile.article("postponement_reasons_article"),
                                 event.originator_version, "a postponement was recorded without reasons"))
    if case is None:
        return found
    if case.confirmation_overdue(now):
        found.append(Finding("oral-request-not-confirmed", cite(profile.oral_requests["article"]), None,
                             f"written confirmation was due by {case.confirmation_due_by.isoformat()}"))
    if case.side == "requested" and case.status in ("received", "acknowledged", "postponed", "in_consultation") \
            and now - case.opened_at > timedelta(days=REPLY_DUE_DAYS):
        found.append(Finding("reply-overdue", profile.article("execution_article"), None,
                             f"received {case.opened_at.date().isoformat()}, still {case.status} after "
                             f"{REPLY_DUE_DAYS} days"))
    for item in case.items:
        kept_until = received_on[item["item_id"]] + timedelta(days=item["restrictions"]["retention_days"])
        if item.get("personal_data") and now.date() > kept_until and case.holds_received_information:
            found.append(Finding("personal-data-kept-past-retention",
                                 cite(profile.use_restrictions["retention_article"]), None,
                                 f"item {item['item_id']} was to be kept until {kept_until.isoformat()}"))
    return found

