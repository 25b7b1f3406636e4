"""Agreements as data: one profile per treaty, loaded from ``profiles/*.json``.

The same code enforces all three agreements; what differs between them (parties,
period in force, languages, kinds of assistance, the article behind each rule)
lives in the profile, never in an ``if agreement == ...`` branch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from typing import Any

from domain.errors import AgreementNotInForce, InvalidInput, NotFound, TreatyRuleViolation

KINDS = (
    "information",
    "lawful_movement_check",
    "special_surveillance",
    "enquiry",
    "service_of_documents",
    "recovery_of_claim",
    "spontaneous",
)


@dataclass(frozen=True)
class Requirement:
    field: str
    article: str
    what: str


@dataclass(frozen=True)
class KindRule:
    article: str
    annex: str | None = None
    requires: tuple[Requirement, ...] = ()


@dataclass(frozen=True)
class AgreementPeriod:
    """When the agreement binds: from entry into force until termination takes effect."""

    in_force_from: date
    terminated_from: date | None = None

    def covers(self, day: date) -> bool:
        if day < self.in_force_from:
            return False
        return self.terminated_from is None or day < self.terminated_from


@dataclass(frozen=True)
class AgreementProfile:
    id: str
    short: str
    title: str
    raw: dict[str, Any] = field(repr=False, compare=False)

    # -- construction -------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AgreementProfile:
        return cls(id=data["id"], short=data["short"], title=data["title"], raw=data)

    def parameter(self, dotted: str) -> Any:
        """A value of the profile by its dotted path, e.g. ``recovery.minimum``."""
        value: Any = self.raw
        for part in dotted.split("."):
            value = value[part]
        return value

    def with_parameters(self, values: dict[str, Any]) -> AgreementProfile:
        """This profile with deployment parameters set (``Directory.terms``); the package's file is untouched."""
        data = json.loads(json.dumps(self.raw))
        for dotted, value in values.items():
            *parents, last = dotted.split(".")
            node = data
            for part in parents:
                node = node[part]
            node[last] = value
        return AgreementProfile.from_dict(data)

    # -- citing ------------------------------------------------------------
    def cite(self, article: str) -> str:
        """``"Art. 11(4)(b)"`` -> ``"JP-NO Art. 11(4)(b)"``."""
        return f"{self.short} {article}"

    # -- the period in force (Art. 18/19, Nairobi Art. 16/19) --------------
    @property
    def default_period(self) -> AgreementPeriod:
        return AgreementPeriod(in_force_from=date.fromisoformat(self.raw["in_force_from"]))

    @property
    def termination_notice_months(self) -> int:
        return int(self.raw["termination"]["notice_months"])

    def require_in_force(self, period: AgreementPeriod, day: date) -> None:
        """New requests only while the agreement binds."""
        if day < period.in_force_from:
            raise AgreementNotInForce(
                f"{self.short} is not in force before {period.in_force_from.isoformat()}",
                article=self.cite(self.raw["entry_into_force_article"]),
                field="agreement",
            )
        if period.terminated_from is not None and day >= period.terminated_from:
            raise AgreementNotInForce(
                f"{self.short} terminated with effect from {period.terminated_from.isoformat()}; "
                "no new request can be made under it (ongoing assistance is completed)",
                article=self.cite(self.raw["termination"]["article"]),
                field="agreement",
            )

    # -- parties -------------------------------------------------------------
    @property
    def parties(self) -> dict[str, dict[str, Any]]:
        return self.raw["parties"]

    def require_parties(self, *administrations: str) -> None:
        for admin in administrations:
            if admin not in self.parties:
                raise AgreementNotInForce(
                    f"administration {admin} is not a party to {self.short}",
                    article=self.cite(self.raw["scope_article"]),
                    field="partner_administration",
                )

    # -- languages (JP-NO Art. 11(2), Nairobi Art. 7(2),(3)) -------------------
    def require_language(self, language: str, bilateral_extras: tuple[str, ...] = ()) -> None:
        rule = self.raw["languages"]
        if rule["accepted"] is None:
            return  # the agreement's text sets no language (Nordic): no refusal is invented
        accepted = list(rule["accepted"])
        if rule.get("bilateral_extras"):
            accepted += list(bilateral_extras)
        if language.lower() not in accepted:
            raise TreatyRuleViolation(
                f"requests under {self.short} must be in {' or '.join(accepted)}; got {language}",
                article=self.cite(rule["article"]),
                field="language",
            )

    # -- kinds of assistance ---------------------------------------------
    def kind_rule(self, kind: str, *administrations: str) -> KindRule:
        if kind not in KINDS:
            raise InvalidInput(f"unknown kind of assistance {kind}", field="kind")
        entry = self.raw["kinds"].get(kind)
        if entry is None:
            article = (
                self.raw["recovery_excluded_article"] if kind == "recovery_of_claim" else self.raw["scope_article"]
            )
            raise TreatyRuleViolation(
                f"{self.short} provides no assistance of kind {kind}",
                article=self.cite(article),
                field="kind",
            )
        rule = KindRule(
            article=self.cite(entry["article"]),
            annex=entry.get("annex"),
            requires=tuple(Requirement(**r) for r in entry.get("requires", ())),
        )
        if rule.annex:  # Nairobi Art. 10: an Annex binds only the parties that accepted it
            for admin in administrations:
                if rule.annex not in self.parties.get(admin, {}).get("annexes", ()):
                    raise TreatyRuleViolation(
                        f"{admin} has not accepted Annex {rule.annex}, which governs {kind}",
                        article=self.cite("Art. 10, Annex " + rule.annex),
                        field="kind",
                    )
        return rule

    @property
    def request_requirements(self) -> tuple[Requirement, ...]:
        return tuple(Requirement(**r) for r in self.raw["request_requirements"])

    # -- the requested side's answers ------------------------------------
    def refusal_ground_article(self, ground: str) -> str:
        grounds = self.raw["refusal_grounds"]
        if ground not in grounds:
            raise TreatyRuleViolation(
                f"{ground} is not a ground for refusal under {self.short}; "
                f"allowed: {', '.join(sorted(grounds))}",
                article=self.cite(self.raw["refusal_reasons_article"]),
                field="grounds",
            )
        return self.cite(grounds[ground])

    def article(self, key: str) -> str:
        """The cited article for a named rule of this profile (e.g. ``forwarding_article``)."""
        return self.cite(self.raw[key])

    def consultation_article(self, subject: str) -> str:
        articles = self.raw["consultation_articles"]
        if subject not in articles:
            raise InvalidInput(
                f"unknown consultation subject {subject}; allowed: {', '.join(sorted(articles))}",
                field="subject",
            )
        return self.cite(articles[subject])

    @property
    def oral_requests(self) -> dict[str, Any]:
        return self.raw["oral_requests"]

    @property
    def use_restrictions(self) -> dict[str, Any]:
        return self.raw["use_restrictions"]

    @property
    def recovery(self) -> dict[str, Any] | None:
        return self.raw.get("recovery")


def load_profiles() -> dict[str, AgreementProfile]:
    """Read every profile shipped in ``domain/profiles``."""
    profiles = {}
    for entry in resources.files("domain.profiles").iterdir():
        if entry.name.endswith(".json"):
            profile = AgreementProfile.from_dict(json.loads(entry.read_text(encoding="utf-8")))
            profiles[profile.id] = profile
    return profiles


def distinct_citations(citations: list[str]) -> list[str]:
    """Citations in order, each once, and none another already holds: ``["JP-NO Art. 3(4)",
    "JP-NO Art. 3(4), 8(2)"]`` -> ``["JP-NO Art. 3(4), 8(2)"]`` (same instrument, its articles a subset)."""
    def parts(citation: str) -> tuple[str, frozenset[str]]:
        instrument, _, articles = citation.partition(" Art. ")
        return instrument, frozenset(a.strip() for a in articles.split(", ")) if articles else frozenset()

    cited = [parts(citation) for citation in dict.fromkeys(citations)]

    def held_elsewhere(index: int) -> bool:
        instrument, articles = cited[index]
        return bool(articles) and any(within == instrument and (articles < held or (articles == held and other < index))
                                      for other, (within, held) in enumerate(cited) if other != index)

    return [citation for index, citation in enumerate(dict.fromkeys(citations)) if not held_elsewhere(index)]


class Agreements:
    """The profiles a node knows, looked up by id."""

    def __init__(self, profiles: dict[str, AgreementProfile] | None = None):
        self._profiles = profiles if profiles is not None else load_profiles()

    def get(self, agreement_id: str) -> AgreementProfile:
        try:
            return self._profiles[agreement_id]
        except KeyError:
            raise NotFound(
                f"unknown agreement {agreement_id}; known: {', '.join(sorted(self._profiles))}",
                field="agreement",
            ) from None

    def retention_days(self, agreement_id: str | None) -> int:
        """How long personal data is kept by default under an agreement (JP-NO Art. 9(2));
        the longest of all agreements when it is not known."""
        if agreement_id in self._profiles:
            return int(self._profiles[agreement_id].use_restrictions["default_retention_days"])
        return max(int(p.use_restrictions["default_retention_days"]) for p in self._profiles.values())

    def __iter__(self):
        return iter(self._profiles.values())
