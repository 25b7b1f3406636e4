"""What the receiver of information may do with it, and on what basis.

One entry point, :func:`check_disclosure`: it returns the articles of the basis
that allows a disclosure or use, or raises :class:`DisclosureRefused` naming
the article and the missing basis. The agreement's differences are data in the
profile's ``disclosure`` section:

* JP-NO Art. 7(2): onward communication to another authority needs the
  provider's express written consent; Art. 7(3): national law-enforcement
  agencies may receive it unless the provider notified otherwise; Art. 10(2):
  use in criminal proceedings needs prior written consent; Art. 14(1): a
  disclosure the receiver's law obliges, with advance notice wherever possible.
* Nairobi Art. 5(1)(a): use includes judicial proceedings; Art. 5(2): other
  purposes need written consent.
* Nordic Art. 7(1): use as evidence within the agreement's purpose; Art. 7(2):
  other purposes need express consent.

The rules bind as long as the information is held, also after the agreement
ends (JP-NO Art. 19(2), Nairobi Art. 19(5)): nothing here looks at the period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from domain.agreements import AgreementProfile
from domain.errors import InvalidInput, TreatyRuleViolation

ACTIONS = ("disclosure", "criminal_proceedings", "other_purpose")
BASES = ("consent", "law_enforcement", "legal_obligation", "within_purpose")
CONFIDENTIALITY_ORDER = ("restricted", "confidential", "secret")


class DisclosureRefused(TreatyRuleViolation):
    code = "disclosure-refused"
    title = "Refused: no basis for this disclosure or use"


@dataclass(frozen=True)
class DisclosureRequest:
    items: tuple[str, ...]
    action: str
    purpose: str
    basis: str
    recipient_authority: str | None = None
    recipient_kind: str | None = None  # "law_enforcement" or "other_authority"
    consent_id: str | None = None
    legal_provision: str | None = None
    advance_notice_id: str | None = None
    notice_impossible_reason: str | None = None


def consent_article(profile: AgreementProfile, action: str | None) -> str:
    """The article a consent for ``action`` rests on: criminal proceedings JP-NO Art. 10(2) (where the
    agreement requires consent for them), any other communication or use JP-NO Art. 7(2)."""
    rules = profile.raw["disclosure"]
    if action == "criminal_proceedings" and rules["criminal_proceedings"]["requires_consent"]:
        return profile.cite(rules["criminal_proceedings"]["article"])
    return profile.cite(rules["consent_article"])


def basis_article(profile: AgreementProfile, basis: str | None, action: str | None) -> str:
    """The article a disclosure or use reported to its provider rests on, by its basis: consent (7(2) or
    10(2)), law enforcement (JP-NO Art. 7(3)), legal obligation (14(1)), within the purposes (7(1))."""
    rules = profile.raw["disclosure"]
    if basis == "consent":
        return consent_article(profile, action)
    if basis == "law_enforcement":
        return profile.cite(rules["law_enforcement"]["article"])
    if basis == "legal_obligation":
        return profile.cite(rules["legal_obligation"]["article"])
    if action == "criminal_proceedings":
        return profile.cite(rules["criminal_proceedings"]["article"])
    return profile.cite(rules["purposes_article"])


def check_disclosure(profile: AgreementProfile, items: dict[str, dict], consents: dict[str, dict],
                     notices: dict[str, dict], request: DisclosureRequest, day: date) -> list[str]:
    """Return the articles of the basis, or raise :class:`DisclosureRefused`."""
    rules = profile.raw["disclosure"]
    cite = profile.cite
    if request.action not in ACTIONS:
        raise InvalidInput(f"action must be one of {', '.join(ACTIONS)}", field="action")
    if request.basis not in BASES:
        raise InvalidInput(f"basis must be one of {', '.join(BASES)}", field="basis")
    held = _held_items(items, request.items)

    if request.basis == "consent":
        _require_consent(profile, consents, request, day)
        return [consent_article(profile, request.action)]

    if request.action == "disclosure":
        if not request.recipient_authority:
            raise InvalidInput("a disclosure names the recipient authority", field="recipient_authority")
        if request.basis == "law_enforcement":
            return _law_enforcement(profile, held, request)
        if request.basis == "legal_obligation":
            return _legal_obligation(profile, notices, request)
        raise DisclosureRefused(
            f"communicating the information to {request.recipient_authority} needs the providing "
            "administration's express written consent",
            article=cite(rules["consent_article"]), field="basis")

    if request.action == "criminal_proceedings":
        proceedings = rules["criminal_proceedings"]
        if proceedings["requires_consent"]:
            raise DisclosureRefused(
                "use in criminal proceedings before a court or judge needs the providing administration's "
                "prior written consent", article=cite(proceedings["article"]), field="basis")
        needed = proceedings.get("requires_purpose")
        if needed and any(needed not in item["restrictions"]["purposes"] for item in held):
            raise DisclosureRefused(
                f"the provider did not release the information for use as {needed}; ask for consent",
                article=cite(rules["other_purpose_article"]), field="basis")
        return [cite(proceedings["article"])]

    # other_purpose: within the provider's purposes needs nothing more; outside needs consent.
    outside = [item["item_id"] for item in held if request.purpose not in item["restrictions"]["purposes"]]
    if outside:
        raise DisclosureRefused(
            f"purpose \u201c{request.purpose}\u201d is outside the purposes the provider set for {', '.join(outside)}; "
            "it needs the provider's written consent",
            article=cite(rules["other_purpose_article"]), field="purpose")
    return [cite(rules["purposes_article"])]


def _held_items(items: dict[str, dict], wanted: tuple[str, ...]) -> list[dict]:
    if not wanted:
        raise InvalidInput("name at least one information item", field="items")
    missing = [i for i in wanted if i not in items]
    if missing:
        raise InvalidInput(f"no information item {', '.join(missing)} in this case", field="items")
    return [items[i] for i in wanted]


def _require_consent(profile: AgreementProfile, consents: dict[str, dict], request: DisclosureRequest,
                     day: date) -> None:
    article = consent_article(profile, request.action)

    def refuse(reason: str) -> DisclosureRefused:
        return DisclosureRefused(reason, article=article, field="consent_id")

    if not request.consent_id:
        raise refuse("a disclosure or use on the basis of consent names the provider's consent it rests on "
                     "(consent_id); none was named")
    consent = consents.get(request.consent_id)
    if consent is None:
        raise refuse(f"no consent {request.consent_id} in this case")
    if consent["status"] != "granted":
        raise refuse(f"consent {request.consent_id} is {consent['status']}, not granted")
    if consent["action"] != request.action:
        raise refuse(f"consent {request.consent_id} covers {consent['action']}, not {request.action}")
    uncovered = [i for i in request.items if i not in consent["items"]]
    if uncovered:
        raise refuse(f"consent {request.consent_id} does not cover item(s) {', '.join(uncovered)}")
    if request.action == "disclosure" and _norm(consent.get("recipient_authority")) != _norm(
            request.recipient_authority):
        raise refuse(f"consent {request.consent_id} is for {consent.get('recipient_authority')}, "
                     f"not {request.recipient_authority}")
    if _norm(consent["purpose"]) != _norm(request.purpose):
        raise refuse(f"consent {request.consent_id} is for the purpose \u201c{consent['purpose']}\u201d, "
                     f"not \u201c{request.purpose}\u201d")
    expires = consent.get("expires_on")
    if expires and day > date.fromisoformat(expires):
        raise refuse(f"consent {request.consent_id} expired on {expires}")


def _law_enforcement(profile: AgreementProfile, held: list[dict], request: DisclosureRequest) -> list[str]:
    rule = profile.raw["disclosure"]["law_enforcement"]
    article = profile.cite(rule["article"])
    if not rule["allowed"]:
        raise DisclosureRefused(f"{profile.short} has no law-enforcement exemption; onward communication needs "
                                "the provider's written consent", article=article, field="basis")
    if request.recipient_kind != "law_enforcement":
        raise DisclosureRefused("the law-enforcement path is only for national law-enforcement agencies",
                                article=article, field="recipient_kind")
    notified = [item["item_id"] for item in held if not item["restrictions"]["law_enforcement_onward"]]
    if notified:
        raise DisclosureRefused(f"the provider notified that {', '.join(notified)} may not go to law-enforcement "
                                "agencies without its consent", article=article, field="items")
    outside = [item["item_id"] for item in held if request.purpose not in item["restrictions"]["purposes"]]
    if outside:
        raise DisclosureRefused(f"law-enforcement agencies may use it only for the provider's purposes; "
                                f"\u201c{request.purpose}\u201d is not one for {', '.join(outside)}",
                                article=profile.cite(profile.raw["disclosure"]["purposes_article"]),
                                field="purpose")
    return [article]


def _legal_obligation(profile: AgreementProfile, notices: dict[str, dict], request: DisclosureRequest) -> list[str]:
    rule = profile.raw["disclosure"]["legal_obligation"]
    article = profile.cite(rule["article"])
    if not rule["allowed"]:
        raise DisclosureRefused(f"{profile.short} has no exemption for legally mandated disclosure; it needs the "
                                "provider's written consent", article=article, field="basis")
    if not (request.legal_provision or "").strip():
        raise DisclosureRefused("name the legal provision that obliges the disclosure", article=article,
                                field="legal_provision")
    if request.advance_notice_id:
        notice = notices.get(request.advance_notice_id)
        if notice is None or not set(request.items) <= set(notice["items"]) or _norm(
                notice["recipient_authority"]) != _norm(request.recipient_authority):
            raise DisclosureRefused("the advance notice given does not cover these items and this recipient",
                                    article=article, field="advance_notice_id")
        return [article]
    if (request.notice_impossible_reason or "").strip():
        return [article]  # a notice goes to the provider immediately after, with the reason
    raise DisclosureRefused("a legally mandated disclosure needs advance notice to the providing administration, "
                            "or the recorded reason why advance notice was impossible", article=article,
                            field="advance_notice_id")


def tighten(profile: AgreementProfile, current: dict[str, Any], wanted: dict[str, Any], field: str) -> dict[str, Any]:
    """The provider may only tighten restrictions by notice (JP-NO Art. 8(2)); never loosen them."""
    new = dict(current)
    if wanted.get("purposes") is not None:
        extra = set(wanted["purposes"]) - set(current["purposes"])
        if extra or not wanted["purposes"]:
            raise InvalidInput(f"a notice can only narrow the purposes; not add {', '.join(sorted(extra))}",
                               field=f"{field}.purposes")
        new["purposes"] = list(wanted["purposes"])
    if wanted.get("law_enforcement_onward") is not None:
        if wanted["law_enforcement_onward"] and not current["law_enforcement_onward"]:
            raise InvalidInput("a notice cannot re-open law-enforcement onward use", field=f"{field}.law_enforcement_onward")
        new["law_enforcement_onward"] = bool(wanted["law_enforcement_onward"])
    if wanted.get("retention_days") is not None:
        if wanted["retention_days"] > current["retention_days"]:
            raise InvalidInput("a notice can only shorten retention", field=f"{field}.retention_days")
        new["retention_days"] = wanted["retention_days"]
    if wanted.get("confidentiality") is not None:
        level = wanted["confidentiality"]
        if level not in CONFIDENTIALITY_ORDER or \
                CONFIDENTIALITY_ORDER.index(level) < CONFIDENTIALITY_ORDER.index(current["confidentiality"]):
            raise InvalidInput("a notice can only raise confidentiality", field=f"{field}.confidentiality")
        new["confidentiality"] = level
    new["use_conditions"] = list(current["use_conditions"]) + [
        c for c in wanted.get("use_conditions") or [] if c not in current["use_conditions"]]
    return new


def _norm(value: str | None) -> str:
    return " ".join((value or "").split()).casefold()
