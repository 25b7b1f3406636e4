"""From HTML forms to the API's own request schemas, and from their errors back to the form's fields."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from domain.errors import DomainError

# A schema's or a rule's field -> the id of the form control that holds it.
FIELD_IDS = {"content.targets": "target_name", "targets": "target_name", "content": "action_requested",
             "partner": "partner_administration", "items": "item_title", "item_id": "item_title"}


def lines(text: str) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def words(text: str) -> list[str]:
    return [w.strip() for w in (text or "").replace(",", " ").split() if w.strip()]


def field_id(location: str) -> str:
    """``content.targets.0.name`` -> ``target_name``; ``content.reason`` -> ``reason``."""
    parts = [p for p in location.split(".") if p and not p.isdigit() and p != "body"]
    if not parts:
        return "form"
    if "targets" in parts:
        tail = parts[parts.index("targets") + 1:]
        return "target_" + (tail[0] if tail and tail[0] in ("name", "kind", "date_of_birth") else
                            "id_value" if tail else "name")
    if "items" in parts:
        tail = parts[parts.index("items") + 1:]
        return "item_" + (tail[0] if tail and tail[0] in ("title", "content") else "title")
    joined = ".".join(parts)
    return FIELD_IDS.get(joined, parts[-1])


def validate(schema: type[BaseModel], data: dict[str, Any]) -> tuple[BaseModel | None, dict[str, str]]:
    """The API's schema decides; its complaints come back keyed by the form's field ids."""
    try:
        return schema.model_validate(data), {}
    except ValidationError as error:
        errors: dict[str, str] = {}
        for e in error.errors():
            name = field_id(".".join(str(p) for p in e.get("loc", ())))
            errors.setdefault(name, f"{name.replace('_', ' ').capitalize()}: {e.get('msg', 'invalid')}")
        return None, errors


def rule_errors(error: DomainError) -> dict[str, str]:
    """A refusal by a rule, placed on its field(s), each with its article."""
    missing = getattr(error, "missing", None)
    if missing:
        return {field_id(m["field"]): f"{m['reason'].capitalize()} ({m['article']})" for m in missing}
    text = str(error) + (f" ({error.article})" if error.article else "")
    return {field_id(error.field or "form"): text[0].upper() + text[1:]}
