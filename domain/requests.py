"""What a request for assistance must contain, and the policy that checks it.

JP-NO Art. 11(2),(4); Nairobi Art. 7; Nordic Art. 6, 9(1), 10. One entry point,
:func:`check_request`, returns ``None`` or raises an error naming every missing
element with its article.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from domain.agreements import AgreementPeriod, AgreementProfile
from domain.errors import TreatyRuleViolation


class RequestIncomplete(TreatyRuleViolation):
    """A request lacks elements the agreement requires; ``missing`` lists each."""

    code = "request-incomplete"
    title = "Request lacks required elements"

    def __init__(self, profile: AgreementProfile, missing: list[tuple[str, str, str]]):
        self.missing = [
            {"field": f, "article": profile.cite(a), "reason": f"required: {what}"} for f, a, what in missing
        ]
        first = self.missing[0]
        super().__init__(
            "the request lacks " + "; ".join(f"{m['field']} ({m['article']})" for m in self.missing),
            article=first["article"],
            field=first["field"],
        )


@dataclass(frozen=True)
class RequestContent:
    """The written content of a request (JP-NO Art. 11(4))."""

    action_requested: str = ""
    reason: str = ""
    case_description: str = ""
    laws_involved: tuple[str, ...] = ()
    targets: tuple[dict[str, Any], ...] = ()
    reciprocity_notice: str | None = None
    document_summary: str | None = None
    recovery: dict[str, Any] | None = None
    surveillance: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RequestContent:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known["laws_involved"] = tuple(known.get("laws_involved") or ())
        known["targets"] = tuple(dict(t) for t in known.get("targets") or ())
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["laws_involved"] = list(self.laws_involved)
        data["targets"] = [dict(t) for t in self.targets]
        return data

    def is_present(self, name: str) -> bool:
        value = getattr(self, name)
        if isinstance(value, str):
            return bool(value.strip())
        return bool(value)


@dataclass(frozen=True)
class RequestCheck:
    """Everything the policy needs to judge one new request."""

    profile: AgreementProfile
    period: AgreementPeriod
    kind: str
    language: str
    requesting: str
    requested: str
    content: RequestContent
    day: date
    bilateral_languages: tuple[str, ...] = field(default=())


def check_request(check: RequestCheck) -> str:
    """Raise the first rule the request breaks; return the article of its kind.

    Order: the agreement binds both parties now, the kind exists for them, the
    language is accepted, every required element is present, then the rules of
    the kind (recovery minimum and enforceability).
    """
    profile = check.profile
    profile.require_parties(check.requesting, check.requested)
    profile.require_in_force(check.period, check.day)
    rule = profile.kind_rule(check.kind, check.requesting, check.requested)
    profile.require_language(check.language, check.bilateral_languages)

    missing = [
        (req.field, req.article, req.what)
        for req in (*profile.request_requirements, *rule.requires)
        if not check.content.is_present(req.field)
    ]
    if missing:
        raise RequestIncomplete(profile, missing)
    if check.kind == "recovery_of_claim":
        _check_recovery(profile, check.content.recovery or {}, check.day)
    return rule.article


def _check_recovery(profile: AgreementProfile, claim: dict[str, Any], day: date) -> None:
    """Nordic Art. 10: a claim above the agreed minimum, enforceable, not time-barred."""
    rules = profile.recovery
    assert rules is not None  # a kind rule exists only where the profile has recovery rules
    try:
        amount = Decimal(str(claim.get("amount", "")))
    except InvalidOperation:
        raise TreatyRuleViolation(
            "the claim amount is not a number", article=profile.cite(rules["article"]), field="recovery.amount"
        ) from None
    currency = str(claim.get("currency", "")).upper()
    minimum = rules["minimum"].get(currency)
    if minimum is None:
        raise TreatyRuleViolation(
            f"no agreed minimum for currency {currency or '(none given)'}; use one of {', '.join(sorted(rules['minimum']))}",
            article=profile.cite(rules["minimum_article"]),
            field="recovery.currency",
        )
    if amount <= Decimal(minimum):  # Nordic Art. 10(2): the claim must exceed ("overstige") the minimum
        raise TreatyRuleViolation(
            f"the claim ({amount} {currency}) does not exceed the agreed minimum of {minimum} {currency}",
            article=profile.cite(rules["minimum_article"]),
            field="recovery.amount",
        )
    if not claim.get("not_recoverable_at_home"):
        raise TreatyRuleViolation(
            "recovery may be requested only if the claim cannot be recovered in the requesting state "
            "without substantial difficulty",
            article=profile.cite(rules["home_recovery_article"]),
            field="recovery.not_recoverable_at_home",
        )
    if not claim.get("enforceable") or not str(claim.get("enforcement_title", "")).strip():
        raise TreatyRuleViolation(
            "the request must carry the enforcement title and a certificate that the decision is enforceable",
            article=profile.cite(rules["enforceability_article"]),
            field="recovery.enforcement_title",
        )
    limitation = claim.get("limitation_date")
    if not limitation:
        raise TreatyRuleViolation(
            "the request must state when the right to recover the claim is time-barred",
            article=profile.cite(rules["limitation_article"]),
            field="recovery.limitation_date",
        )
    if date.fromisoformat(str(limitation)) <= day:
        raise TreatyRuleViolation(
            f"the claim was time-barred on {limitation}",
            article=profile.cite(rules["limitation_article"]),
            field="recovery.limitation_date",
        )
