"""API credentials of the node's own officials: issued, later revoked.

Only a digest of the secret is recorded; the secret itself is shown once.
"""

from __future__ import annotations

from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidInput


def credential_id(token_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"cmaa:credential:{token_id}")


class Credential(Aggregate):
    @staticmethod
    def create_id(token_id: str, official_id: str, secret_digest: str, by: str, at: datetime) -> UUID:
        return credential_id(token_id)

    @event("CredentialIssued")
    def __init__(self, token_id: str, official_id: str, secret_digest: str, by: str, at: datetime):
        self.token_id = token_id
        self.official_id = official_id
        self.secret_digest = secret_digest
        self.issued_at = at
        self.revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def revoke(self, *, reason: str, by: str, at: datetime) -> None:
        if not self.active:
            raise InvalidInput(f"credential {self.token_id} is already revoked", field="token_id")
        self._revoked(reason=reason, by=by, at=at)

    @event("CredentialRevoked")
    def _revoked(self, reason: str, by: str, at: datetime) -> None:
        self.revoked_at = at
