"""Opening a case: a request made (written or oral), a partner's request recorded, spontaneous assistance given."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from domain.agreements import AgreementProfile
from domain.case import PROVIDING, REQUESTED, REQUESTING, AssistanceCase
from domain.errors import InvalidInput, TreatyRuleViolation
from domain.information import normalise_items
from domain.requests import RequestCheck, RequestContent, check_request
from service.principal import Principal


class CaseOpening:
    """Part of :class:`service.cases.CaseService`: the commands that open a case, each checked against the
    agreement profile before the case exists."""

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

    # -- helpers of opening -------------------------------------------------------------
    def _checked_request(self, data: dict[str, Any], side: str, requesting: str, now: datetime):
        profile = self.agreements.get(data["agreement"])
        partner = data["partner_administration"]
        requested = partner if side == REQUESTING else self.directory.administration
        directory = self.directory.directory()
        partner_record = directory.require_partner(profile, partner)
        content = RequestContent.from_dict(data["content"])
        article = check_request(
            RequestCheck(
                profile=directory.terms(profile),  # with this node's deployment parameters (Nordic Art. 10(2))
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

    @staticmethod
    def _reference(administration: str, case_id: UUID, now: datetime) -> str:
        return f"{administration}-{now.year}-{case_id.hex[:8].upper()}"

    @staticmethod
    def _confirmation_due(profile: AgreementProfile, now: datetime) -> datetime:
        days = int(profile.oral_requests["confirmation_due_days"])
        if days <= 0:
            raise InvalidInput("the profile's confirmation_due_days must be positive")
        return now + timedelta(days=days)
