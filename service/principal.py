"""Who is calling: an authenticated official of this node's administration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from domain.case import actor
from domain.errors import NotPermitted


@dataclass(frozen=True)
class Principal:
    official_id: str
    administration: str
    roles: tuple[str, ...]
    # Set on a caller recognised from this process's memory of recent credentials (service/http/deps.py):
    # a check against the store, run on the request's worker thread before anything else it does
    # (service/http/routing.py), returning the caller as the store has it now or raising.
    confirm: Callable[[], "Principal"] | None = field(default=None, compare=False, repr=False)

    def require(self, *roles: str) -> None:
        if not set(roles) & set(self.roles):
            raise NotPermitted(f"this needs the {' or '.join(roles)} role; {self.official_id} holds {', '.join(self.roles)}")

    @property
    def as_actor(self) -> dict[str, str]:
        return actor(self.administration, self.official_id)
