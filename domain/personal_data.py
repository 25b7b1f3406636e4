"""Which parts of which events hold personal data, and how a data subject is named.

Customs exchanges carry personal data about the persons under investigation
(JP-NO Art. 11(4)(d)); it is kept only as long as its purpose needs and is
protected from unauthorised access, amendment and dissemination (JP-NO Art. 9(2)).

This module is the schema-level declaration the store relies on: every part it
yields is sealed field by field under a key per data subject before an event is
stored (``adapters/vault.py``), and read back as an explicit marker once that key
is destroyed. Pure functions only: no keys, no I/O.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from domain.errors import DomainError

ARTICLE = "JP-NO Art. 9(2)"

# The written request's free-text fields may name the targets (JP-NO Art. 11(4)).
REQUEST_TEXT_FIELDS = ("action_requested", "reason", "case_description", "document_summary")
# An information item marked ``personal_data`` holds it in these fields.
ITEM_FIELDS = ("title", "content")

TARGET = "target"  # one data subject's own record
TEXT = "text"  # free text that may name every subject of the event
ITEM = "item"  # an information item marked as personal data


@dataclass(frozen=True)
class Part:
    """One place in an event's state that holds personal data."""

    kind: str
    path: str  # e.g. "content.targets.0", "content.reason", "items.2.content"
    container: Any  # the dict or list that holds the value
    key: Any  # the key or index of the value in ``container``
    retention_days: int | None = None  # the provider's restriction, where the part carries one


class ProcessingRestricted(DomainError):
    """Further processing of a data subject's data is restricted by the DPO."""

    code = "processing-restricted"
    title = "Processing of this personal data is restricted"
    status = 423


def personal_parts(event_name: str, state: dict[str, Any]) -> Iterator[Part]:
    """Yield every part of an event's state that holds personal data.

    ``event_name`` is the event class's name; the opening events of a case all
    carry ``content`` and ``items``; later events carry items in a reply, a
    partner's reply body, or a rectified value.
    """
    content = state.get("content")
    if isinstance(content, dict):
        for index, target in enumerate(content.get("targets") or []):
            yield Part(TARGET, f"content.targets.{index}", content["targets"], index)
        for name in REQUEST_TEXT_FIELDS:
            if _text(content.get(name)):
                yield Part(TEXT, f"content.{name}", content, name)
        surveillance = content.get("surveillance")
        if isinstance(surveillance, dict) and surveillance.get("subjects"):
            yield Part(TEXT, "content.surveillance.subjects", surveillance, "subjects")
    if isinstance(state.get("targets"), list):  # spontaneous assistance on the wire (JP-NO Art. 5)
        for index, target in enumerate(state["targets"]):
            yield Part(TARGET, f"targets.{index}", state["targets"], index)
    for name in ("relevance", "case_description"):
        if _text(state.get(name)):
            yield Part(TEXT, name, state, name)
    yield from _item_parts("items", state.get("items"))
    if event_name == "PartnerStepReceived" and isinstance(state.get("body"), dict):
        yield from _item_parts("body.items", state["body"].get("items"))
    if event_name == "PersonalDataRectified" and "value" in state:
        yield Part(TARGET, "value", state, "value")


def _text(value: Any) -> bool:
    """Free text worth sealing: non-empty, or already sealed (a sealed part is a mapping)."""
    return isinstance(value, dict) or (isinstance(value, str) and bool(value.strip()))


def _item_parts(prefix: str, items: Any) -> Iterator[Part]:
    for index, item in enumerate(items or []):
        if not isinstance(item, dict) or not item.get("personal_data"):
            continue
        days = (item.get("restrictions") or {}).get("retention_days")
        for name in ITEM_FIELDS:
            if name in item:
                yield Part(ITEM, f"{prefix}.{index}.{name}", item, name,
                           days if isinstance(days, int) else None)


def targets_of(event_name: str, state: dict[str, Any]) -> list[dict[str, Any]]:
    """The data subjects an event names itself (an opening event's targets, a rectified value)."""
    if event_name == "PersonalDataRectified" and isinstance(state.get("value"), dict):
        return [state["value"]]
    content = state.get("content")
    targets = content.get("targets") if isinstance(content, dict) else state.get("targets")
    return [t for t in targets or [] if isinstance(t, dict)]


# -- naming a data subject -----------------------------------------------------------
def normalise_name(name: str) -> str:
    """Case, accents, punctuation and spacing do not make another person."""
    decomposed = unicodedata.normalize("NFKD", name)
    letters = "".join(c for c in decomposed if not unicodedata.combining(c))
    cleaned = "".join(c if c.isalnum() else " " for c in letters.casefold())
    return " ".join(cleaned.split())


def identifiers_of(subject: dict[str, Any]) -> list[str]:
    """The normalised identifiers of a subject, each a string to be keyed-hashed.

    Document numbers and company ids (scheme + value) identify on their own; a
    natural person's name identifies together with the date of birth; a name alone
    is used only when nothing else is given.
    """
    found = []
    for ident in subject.get("identifiers") or []:
        scheme = normalise_name(str(ident.get("scheme", ""))).replace(" ", "_")
        value = "".join(c for c in str(ident.get("value", "")).upper() if c.isalnum())
        if scheme and value:
            found.append(f"id:{scheme}:{value}")
    name = normalise_name(str(subject.get("name") or ""))
    born = subject.get("date_of_birth")
    if isinstance(born, (date, datetime)):
        born = born.isoformat()[:10]
    if name and born:
        found.append(f"name-born:{name}|{born}")
    if name and not found:
        found.append(f"name:{name}")
    return found


def erased_marker(on: str, rule: str) -> str:
    return f"[erased on {on} under {rule}]"


def restricted_marker(since: str) -> str:
    return f"[restricted since {since} by the data protection officer ({ARTICLE})]"
