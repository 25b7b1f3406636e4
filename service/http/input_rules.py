"""What every request body is held to, whatever the operation: no unknown field, no control character in any
text, no date of birth in the future (the models of :mod:`service.http.schemas` build on these)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator

# Control characters other than tab, newline and carriage return: no text a person writes holds them, and
# PostgreSQL refuses NUL in text and JSON.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _no_control_characters(value: Any) -> Any:
    """Every text of a request (in lists and mappings too), whatever its field."""
    if isinstance(value, str):
        found = CONTROL.search(value)
        if found:
            raise ValueError(f"control character U+{ord(found.group()):04X} at character {found.start()}; "
                             "text may hold tab, newline and carriage return, no other control character")
    elif isinstance(value, (list, tuple)):
        for item in value:
            _no_control_characters(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            _no_control_characters(key)
            _no_control_characters(item)
    return value


class Strict(BaseModel):
    """Every request body's model: unknown fields refused, and no control characters in any text."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _text_without_control_characters(cls, value: Any) -> Any:
        return _no_control_characters(value)


def _born_already(value: date | None) -> date | None:
    # The latest date anywhere on Earth (UTC+14): a person born today in Kiribati is not refused.
    if value is not None and value > (datetime.now(timezone.utc) + timedelta(hours=14)).date():
        raise ValueError("a date of birth cannot be in the future")
    return value


DateOfBirth = Annotated[date, AfterValidator(_born_already)]
