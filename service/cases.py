"""Application service for cases: route -> here -> aggregate -> store.

Each command loads the case, checks the caller may act on it, asks the
agreement profile for the rule and its article, lets the aggregate decide, and
commits the new events in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.utils import get_topic

from adapters.store import EventStore
from domain.agreements import Agreements, AgreementProfile
from domain.case import PROVIDING, REQUESTED, REQUESTING, AssistanceCase
from domain.errors import CaseNotFound, ConcurrentUpdate, InvalidInput, TreatyRuleViolation
from domain.information import normalise_items
from domain.requests import RequestCheck, RequestContent, check_request
from service.exchange.directory import DirectoryService
from service.exchange.outbox import body_for
from service.exchange.service import ExchangeService
from service.principal import Principal

OPENING_EVENTS = (
    AssistanceCase.AssistanceRequested,
    AssistanceCase.OralRequestRecorded,
    AssistanceCase.RequestReceived,
    AssistanceCase.SpontaneousAssistanceProvided,
)
OPENING_TOPICS = tuple(get_topic(cls) for cls in OPENING_EVENTS)
COMMAND_ATTEMPTS = 5


@dataclass
class CaseService:
    store: EventStore
    agreements: Agreements
    directory: DirectoryService
    clock: Any
    exchange: ExchangeService | None = None

    # -- opening a case ---------------------------------------------------------
    def request_assistance(self, who: Principal, data: dict[str, Any], *, oral: bool = False) -> AssistanceCase:
        """A written request (JP-NO Art. 11(2)), or an urgent oral one to be confirmed (Art. 11(3))."""
        who.require("official")
        now = self.clock.now()
        profile, articles, content = self._checked_request(data, REQUESTING, who.administration, now)
        due_by = self._confirmation_due(profile, now) if oral else None
        if oral:
            articles.append(profile.cite(profile.oral_requests["article"]))
        return self._open(
            AssistanceCase.OralRequestRecorded if oral else AssistanceCase.AssistanceRequested,
            who, data, profile, REQUESTING, content, articles, now,
            channel="oral" if oral else "written", confirmation_due_by=due_by, send="request",
        )

    def record_received_request(self, who: Principal, data: dict[str, Any]) -> AssistanceCase:
        """A partner's request that reached this administration (the requested side's case)."""
        who.require("official")
        now = self.clock.now()
        partner = data["partner_administration"]
        profile, articles, content = self._checked_request(data, REQUESTED, partner, now)
        channel = data.get("channel", "written")
        due_by = None
        if channel == "oral":
            articles.append(profile.cite(profile.oral_requests["article"]))
            if profile.oral_requests["written_confirmation"] == "required":
                due_by = self._confirmation_due(profile, now)
        if content.reciprocity_notice:
            articles.append(profile.article("reciprocity_article"))
        return self._open(AssistanceCase.RequestReceived, who, data, profile, REQUESTED, content, articles, now,
                          channel=channel, confirmation_due_by=due_by)

    def provide_spontaneously(self, who: Principal, data: dict[str, Any]) -> AssistanceCase:
        """Information given on this administration's own initiative (JP-NO Art. 5)."""
        who.require("official")
        now = self.clock.now()
        profile = self.agreements.get(data["agreement"])
        partner = data["partner_administration"]
        profile.require_parties(who.administration, partner)
        profile.require_in_force(self.directory.directory().period(profile), now.date())
        rule = profile.kind_rule("spontaneous", who.administration, partner)
        self._require_addressees(profile, partner, data)
        case_id = uuid4()
        items = normalise_items(profile, data["items"], self._reference(who.administration, case_id, now))
        content = RequestContent(reason=data.get("relevance", ""), case_description=data.get("case_description", ""),
                                 targets=tuple(dict(t) for t in data.get("targets") or ()))
        if not content.is_present("reason"):
            raise TreatyRuleViolation(
                "spontaneous assistance states why the information is relevant to preventing serious customs offences",
                article=rule.article, field="relevance",
            )
        return self._open(AssistanceCase.SpontaneousAssistanceProvided, who, data, profile, PROVIDING, content,
                          [rule.article, profile.cite(profile.use_restrictions["article"])], now,
                          channel="written", items=items, case_id=case_id, kind="spontaneous",
                          send="spontaneous")

    # -- the requested side's steps -------------------------------------------------
    def acknowledge(self, who: Principal, case_id: UUID) -> AssistanceCase:
        def act(case, profile):
            case.acknowledge(by=who.as_actor, at=self.clock.now(), article=profile.article("execution_article"))
            return "acknowledgement", {}
        return self._step(who, case_id, act)

    def forward(self, who: Principal, case_id: UUID, *, authority: str, reason: str) -> AssistanceCase:
        def act(case, profile):
            case.forward(by=who.as_actor, at=self.clock.now(), article=profile.article("forwarding_article"),
                         authority=authority, reason=reason)
            return "forwarding", {"authority": authority, "reason": reason}
        return self._step(who, case_id, act)

    def reply(self, who: Principal, case_id: UUID, *, items: list[dict], final: bool,
              partial_reasons: str | None, conditions: list[str]) -> AssistanceCase:
        def act(case, profile):
            articles = [profile.article("reply_article"), profile.cite(profile.use_restrictions["article"])]
            if partial_reasons or conditions:
                articles.append(profile.article("partial_assistance_article"))
            normalised = normalise_items(profile, items, f"{case.reference}-{case.version + 1}")
            case.reply(by=who.as_actor, at=self.clock.now(), articles=articles, items=normalised, final=final,
                       partial_reasons=partial_reasons, conditions=conditions)
            return "reply", {"items": normalised, "final": final, "partial_reasons": partial_reasons,
                             "conditions": conditions}
        return self._step(who, case_id, act)

    def refuse(self, who: Principal, case_id: UUID, *, grounds: list[str], reasons: str) -> AssistanceCase:
        def act(case, profile):
            articles = [profile.article("refusal_reasons_article")]
            for ground in grounds:
                articles.append(profile.refusal_ground_article(ground))
                if ground == "reciprocity" and not case.content.get("reciprocity_notice"):
                    raise TreatyRuleViolation(
                        "refusal on grounds of reciprocity applies only to a request that carried a reciprocity "
                        "notice", article=profile.article("reciprocity_article"), field="grounds",
                    )
            case.refuse(by=who.as_actor, at=self.clock.now(), articles=articles, grounds=grounds, reasons=reasons)
            return "refusal", {"grounds": grounds, "reasons": reasons}
        return self._step(who, case_id, act)

    def postpone(self, who: Principal, case_id: UUID, *, reasons: str, until: str | None) -> AssistanceCase:
        def act(case, profile):
            articles = [profile.article("postponement_article"), profile.article("postponement_reasons_article")]
            case.postpone(by=who.as_actor, at=self.clock.now(), articles=articles, reasons=reasons, until=until)
            return "postponement", {"reasons": reasons, "until": until}
        return self._step(who, case_id, act)

    def open_consultation(self, who: Principal, case_id: UUID, *, subject: str, message: str) -> AssistanceCase:
        def act(case, profile):
            case.open_consultation(by=who.as_actor, at=self.clock.now(),
                                   article=profile.consultation_article(subject), subject=subject, message=message)
            return "consultation", {"subject": subject, "message": message}
        return self._step(who, case_id, act)

    # -- oral requests and closure ----------------------------------------------------
    def confirm_in_writing(self, who: Principal, case_id: UUID, *, reference: str) -> AssistanceCase:
        def act(case, profile):
            case.confirm_in_writing(by=who.as_actor, at=self.clock.now(),
                                    article=profile.cite(profile.oral_requests["article"]), reference=reference)
            return ("written_confirmation" if case.side == REQUESTING else None), {"reference": reference}
        return self._step(who, case_id, act)

    def require_written_confirmation(self, who: Principal, case_id: UUID) -> AssistanceCase:
        def act(case, profile):
            case.require_written_confirmation(by=who.as_actor, at=self.clock.now(),
                                              article=profile.cite(profile.oral_requests["article"]),
                                              within_days=int(profile.oral_requests["confirmation_due_days"]))
            return None, {}
        return self._step(who, case_id, act)

    def close(self, who: Principal, case_id: UUID, *, reason: str) -> AssistanceCase:
        def act(case, profile):
            case.close(by=who.as_actor, at=self.clock.now(), reason=reason)
            return None, {}
        return self._step(who, case_id, act)

    # -- reading ------------------------------------------------------------------
    def get(self, who: Principal, case_id: UUID, roles: tuple[str, ...] = ("official", "auditor")) -> AssistanceCase:
        who.require(*roles)
        case = self.store.load(case_id, CaseNotFound(case_id))
        if not isinstance(case, AssistanceCase):
            raise CaseNotFound(case_id)
        case.require_owner(who.administration)
        return case

    def history(self, who: Principal, case_id: UUID) -> list[Any]:
        self.get(who, case_id)
        return list(self.store.events.get(case_id))

    def list(self, who: Principal, *, after: int, limit: int, overdue_only: bool = False):
        """Cases in the order they were opened; ``after`` is a cursor (notification id)."""
        who.require("official", "auditor")
        now = self.clock.now()
        cases, cursor = [], after
        while len(cases) < limit:
            batch = self.store.notifications(cursor + 1, limit, topics=OPENING_TOPICS)
            if not batch:
                break
            for notification in batch:
                cursor = notification.id
                case = self.store.load(notification.originator_id)
                if case.own_administration != who.administration:
                    continue
                if overdue_only and not case.confirmation_overdue(now):
                    continue
                cases.append(case)
                if len(cases) == limit:
                    break
        return cases, cursor

    # -- helpers --------------------------------------------------------------------
    def _checked_request(self, data: dict[str, Any], side: str, requesting: str, now: datetime):
        profile = self.agreements.get(data["agreement"])
        partner = data["partner_administration"]
        requested = partner if side == REQUESTING else self.directory.administration
        directory = self.directory.directory()
        partner_record = directory.require_partner(profile, partner)
        content = RequestContent.from_dict(data["content"])
        article = check_request(
            RequestCheck(
                profile=profile,
                period=directory.period(profile),
                kind=data["kind"],
                language=data["language"],
                requesting=requesting,
                requested=requested,
                content=content,
                day=now.date(),
                bilateral_languages=tuple(partner_record.get("languages", ())),
            )
        )
        self._require_addressees(profile, partner, data)
        # The kind's article, the written-request rule, the mandatory content.
        articles = [article, profile.cite(profile.raw["languages"]["article"]),
                    profile.cite(profile.request_requirements[0].article)]
        if side == REQUESTING and content.reciprocity_notice:
            articles.append(profile.article("reciprocity_article"))
        return profile, articles, content

    def _require_addressees(self, profile: AgreementProfile, partner: str, data: dict[str, Any]) -> None:
        addressed = list(data.get("addressed_to") or [])
        self.directory.directory().require_partner_officials(profile, partner, addressed)

    def _open(self, event_class, who: Principal, data: dict[str, Any], profile: AgreementProfile, side: str,
              content: RequestContent, articles: list[str], now: datetime, *, channel: str,
              confirmation_due_by: datetime | None = None, items: list | None = None,
              case_id: UUID | None = None, kind: str | None = None, send: str | None = None) -> AssistanceCase:
        case_id = case_id or uuid4()
        case = AssistanceCase.open(
            event_class,
            case_id=case_id,
            agreement=profile.id,
            own_administration=who.administration,
            partner_administration=data["partner_administration"],
            side=side,
            kind=kind or data["kind"],
            language=data.get("language", "en"),
            reference=self._reference(who.administration, case_id, now),
            content=content.to_dict(),
            addressed_to=list(data.get("addressed_to") or []),
            by=who.as_actor,
            at=now,
            articles=articles,
            channel=channel,
            confirmation_due_by=confirmation_due_by,
            items=items or [],
            # The opener's id is the case's id on the wire; a manually recorded request has none.
            exchange_id=case_id if send else None,
        )
        return self._commit(case, who, send)

    def _step(self, who: Principal, case_id: UUID, act, roles: tuple[str, ...] = ("official",)) -> AssistanceCase:
        """Load the case, let ``act`` decide, commit with its envelope.

        A concurrent write (another official, a replica, the courier recording a
        receipt) makes the commit fail; the command is then run again on the new
        state, which may now refuse it. Commands are pure functions of state and
        input, so re-running one is safe.
        """
        who.require(*roles)
        for attempt in range(COMMAND_ATTEMPTS):
            case = self.get(who, case_id, roles)
            send, body = act(case, self.agreements.get(case.agreement))
            try:
                return self._commit(case, who, send, **body)
            except ConcurrentUpdate:
                if attempt == COMMAND_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _commit(self, case: AssistanceCase, who: Principal | None = None, send: str | None = None,
                **body: Any) -> AssistanceCase:
        """Store the case's new events and, in the same transaction, the envelope they cause."""
        outbox = []
        if send and self.exchange is not None:
            outbox = self.exchange.outgoing(case, who.official_id, send, body_for(send, case, **body))
        self.store.commit(case, outbox=outbox)
        if outbox and self.exchange.wake is not None:
            self.exchange.wake()
        return case

    @staticmethod
    def _reference(administration: str, case_id: UUID, now: datetime) -> str:
        return f"{administration}-{now.year}-{case_id.hex[:8].upper()}"

    @staticmethod
    def _confirmation_due(profile: AgreementProfile, now: datetime) -> datetime:
        days = int(profile.oral_requests["confirmation_due_days"])
        if days <= 0:
            raise InvalidInput("the profile's confirmation_due_days must be positive")
        return now + timedelta(days=days)
