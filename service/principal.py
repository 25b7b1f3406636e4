"""Who is calling: an authenticated official of this node's administration."""

from __future__ import annotations

from dataclasses import dataclass

from domain.case import actor
from domain.errors import NotPermitted


@dataclass(frozen=True)
class Principal:
    official_id: str
    administration: str
    roles: tuple[str, ...]

    def require(self, *roles: str) -> None:
        if not set(roles) & set(self.roles):
            raise NotPermitted(f"this needs the {' or '.join(roles)} role; {self.official_id} holds {', '.join(self.roles)}")

    @property
    def as_actor(self) -> dict[str, str]:
        return actor(self.administration, self.official_id)
