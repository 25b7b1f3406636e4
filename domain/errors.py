"""Domain errors. Each carries what a user needs to fix the input.

The service layer maps each class to one RFC 9457 problem type; routes never
translate business rules themselves.
"""

from __future__ import annotations

import re
from contextlib import contextmanager


class DomainError(Exception):
    """Base of every rule the domain refuses.

    ``article`` names the treaty provision the rule rests on (e.g.
    ``"JP-NO Art. 11(4)(b)"``), ``field`` the input field at fault.
    """

    code = "domain-error"
    title = "Request refused"

    def __init__(self, detail: str, *, article: str | None = None, field: str | None = None):
        self.detail = detail
        self.article = article
        self.field = field
        message = f"{article}: {detail}" if article else detail
        super().__init__(message)


class TreatyRuleViolation(DomainError):
    """The input breaks a rule of the agreement the case rests on."""

    code = "treaty-rule-violation"
    title = "Refused under the agreement"


class AgreementNotInForce(TreatyRuleViolation):
    code = "agreement-not-in-force"
    title = "Agreement not in force between these administrations"


class IllegalTransition(DomainError):
    """The command does not apply to the case in its current state."""

    code = "illegal-transition"
    title = "Not possible in the case's current state"


class ItemIdReused(IllegalTransition):
    """An information item's id is already used in the case: an item keeps its id and its restrictions,
    which only tighten by notice."""

    code = "item-id-reused"
    title = "Item id already used in this case"


class NotPermitted(DomainError):
    """The caller may not do this (wrong role or another administration)."""

    code = "not-permitted"
    title = "Not permitted"


class NotFound(DomainError):
    code = "not-found"
    title = "Not found"


class CaseNotFound(NotFound):
    def __init__(self, case_id: object):
        super().__init__(f"no case with id {case_id}")


class InvalidInput(DomainError):
    """Input that is well-formed but not acceptable (e.g. an unknown code)."""

    code = "invalid-input"
    title = "Invalid input"


class ConcurrentUpdate(DomainError):
    """Another writer changed the aggregate first (optimistic concurrency)."""

    code = "concurrent-update"
    title = "Changed concurrently"


@contextmanager
def fields_as_sent(**names: str):
    """Rules name the fields of a case's request (``agreement``, ``partner_administration``); a request
    that names them otherwise (``POST /directory/partners``: ``administration``, ``agreements``) has the
    refusal name its own field: ``with fields_as_sent(agreement="agreements.0"): ...``. Paths are dotted,
    list indexes included, as in a validation error (``content.targets.0.kind``)."""
    try:
        yield
    except DomainError as error:
        error.field = names.get(error.field, error.field)
        raise


def as_prose(message: str) -> str:
    """A validator's message as prose: values it quotes Python-style ('a' or 'b') get typographic quotes."""
    return re.sub(r"(?<![A-Za-z])'([^'\n]*)'(?![A-Za-z])", "\u201c\\1\u201d", message)
