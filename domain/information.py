"""Information items and the use restrictions the provider attaches to them.

JP-NO Art. 3(4) (everything needed to use the information is supplied with it),
Art. 8(2) (the provider may restrict its use), Art. 7(1) (purposes), Art. 7(3)
(national law enforcement unless notified otherwise), Art. 9(2) (retention).
"""

from __future__ import annotations

from typing import Any

from domain.agreements import AgreementProfile
from domain.errors import InvalidInput, ItemIdReused, TreatyRuleViolation


def normalise_items(profile: AgreementProfile, items: list[dict[str, Any]], case_ref: str) -> list[dict[str, Any]]:
    """Give each item an id and complete its restrictions from the profile's defaults."""
    if not items:
        raise InvalidInput("a reply or spontaneous assistance carries at least one information item", field="items")
    ids = [item.get("item_id") for item in items if item.get("item_id")]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ItemIdReused(f"item id {', '.join(repeated)} is given to more than one item; each item has its own id",
                           field="items")
    normalised = []
    for index, item in enumerate(items):
        item_id = item.get("item_id") or f"{case_ref}-{index + 1}"
        normalised.append(
            {
                "item_id": item_id,
                "title": item["title"],
                "content": item["content"],
                "personal_data": bool(item.get("personal_data", False)),
                "restrictions": normalise_restrictions(profile, item.get("restrictions") or {}, index),
            }
        )
    return normalised


def normalise_restrictions(profile: AgreementProfile, given: dict[str, Any], index: int = 0) -> dict[str, Any]:
    rules = profile.use_restrictions
    where = f"items.{index}.restrictions"
    purposes = list(given.get("purposes") or rules["default_purposes"])
    unknown = [p for p in purposes if p not in rules["purposes"]]
    if unknown:
        # JP-NO Art. 7(1): information is used only for the agreement's purposes.
        raise TreatyRuleViolation(
            f"purpose(s) {', '.join(unknown)} are outside {profile.short}; "
            f"allowed: {', '.join(sorted(rules['purposes']))}",
            article=profile.cite(rules["article"]),
            field=f"{where}.purposes",
        )
    level = given.get("confidentiality") or rules["default_confidentiality"]
    if level not in rules["confidentiality_levels"]:
        raise InvalidInput(
            f"confidentiality must be one of {', '.join(rules['confidentiality_levels'])}",
            field=f"{where}.confidentiality",
        )
    retention = given.get("retention_days")
    retention = rules["default_retention_days"] if retention is None else retention
    if not isinstance(retention, int) or retention <= 0:
        raise InvalidInput("retention_days must be a positive number of days", field=f"{where}.retention_days")
    onward = given.get("law_enforcement_onward")
    return {
        "purposes": purposes,
        "confidentiality": level,
        "use_conditions": list(given.get("use_conditions") or []),
        "law_enforcement_onward": rules["law_enforcement_onward_default"] if onward is None else bool(onward),
        "retention_days": retention,
        "articles": [
            profile.cite(rules["article"]),
            profile.cite(rules["confidentiality_article"]),
            profile.cite(rules["law_enforcement_article"]),
            profile.cite(rules["retention_article"]),
        ],
    }
