"""Application service for cases: route -> here -> aggregate -> store.

Each command loads the case, checks the caller may act on it, asks the
agreement profile for the rule and its article, lets the aggregate decide, and
commits the new events in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

from adapters.exchange_tables import requeue_update
from adapters.store import EventStore
from domain.agreements import Agreements
from domain.case import REQUESTING, AssistanceCase
from domain.errors import CaseNotFound, ConcurrentUpdate, TreatyRuleViolation
from domain.information import normalise_items
from service.exchange.directory import DirectoryService
from service.case_opening import CaseOpening
from service.exchange.outbox import body_for
from service.exchange.service import ExchangeService
from service.principal import Principal

OPENING_EVENTS = (
    AssistanceCase.AssistanceRequested,
    AssistanceCase.OralRequestRecorded,
    AssistanceCase.RequestReceived,
    AssistanceCase.SpontaneousAssistanceProvided,
    AssistanceCase.SpontaneousAssistanceReceived,
)
OPENING_TOPICS = tuple(get_topic(cls) for cls in OPENING_EVENTS)
COMMAND_ATTEMPTS = 5


@dataclass
class CaseService(CaseOpening):
    store: EventStore
    agreements: Agreements
    directory: DirectoryService
    clock: Any
    exchange: ExchangeService | None = None

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
            case.close(by=who.as_actor, at=self.clock.now(), reason=reason,
                       answer_article=profile.article("refusal_reasons_article"))
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

    def list(self, who: Principal, *, after: int, limit: int, overdue_only: bool = False,
             filters: dict[str, str] | None = None):
        """Every case of the caller's administration in the order they were opened, those whose attributes
        equal ``filters`` (side, kind, partner_administration, status, agreement); ``after`` is a cursor
        (notification id)."""
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
                if any(getattr(case, name) != value for name, value in (filters or {}).items()):
                    continue
                cases.append(case)
                if len(cases) == limit:
                    break
        return cases, cursor

    # -- helpers --------------------------------------------------------------------
    def resend(self, who: Principal, case_id: UUID, envelope_id: str) -> AssistanceCase:
        """Send again an envelope the partner refused (its signed rejection stays in the history), once the
        cause is fixed: ``EnvelopeResent`` and the envelope back in the outbox, in one transaction."""
        who.require("official")
        for attempt in range(COMMAND_ATTEMPTS):
            case = self.get(who, case_id, ("official",))
            case.resend_rejected(envelope_id=envelope_id, by=who.as_actor, at=self.clock.now())
            try:
                self.store.commit(case, outcome=requeue_update(envelope_id))
            except ConcurrentUpdate:
                if attempt == COMMAND_ATTEMPTS - 1:
                    raise
                continue
            if self.exchange is not None and self.exchange.wake is not None:
                self.exchange.wake()
            return case
        raise AssertionError("unreachable")

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
        with self.store.remembering():  # the envelope and the events seal the same personal data
            if send and self.exchange is not None:
                outbox = self.exchange.outgoing(case, who.official_id, send, body_for(send, case, **body))
            self.store.commit(case, outbox=outbox)
        if outbox and self.exchange.wake is not None:
            self.exchange.wake()
        return case
