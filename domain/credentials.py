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
    def create_id(token_id: str, official_id: str, secret_digest: str, by: str, at: datetime,
                  expires_at: datetime | None = None) -> UUID:
        return credential_id(token_id)

    class CredentialIssued(Aggregate.Created):
        """Schema history (docs/operations.md, "Upgrades"):

        v1  token_id, official_id, secret_digest, by, at
        v2  + expires_at: credentials may expire (``None``: until revoked)
        """

        class_version = 2
        token_id: str
        official_id: str
        secret_digest: str
        by: str
        at: datetime
        expires_at: datetime | None

        @staticmethod
        def upcast_v1_v2(state: dict) -> None:
            state["expires_at"] = None  # credentials issued before v2 did not expire

    @event(CredentialIssued)
    def __init__(self, token_id: str, official_id: str, secret_digest: str, by: str, at: datetime,
                 expires_at: datetime | None = None):
        self.token_id = token_id
        self.official_id = official_id
        self.secret_digest = secret_digest
        self.issued_at = at
        self.expires_at = expires_at
        self.revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def valid_at(self, now: datetime) -> bool:
        return self.active and (self.expires_at is None or now < self.expires_at)

    def revoke(self, *, reason: str, by: str, at: datetime) -> None:
        if not self.active:
            raise InvalidInput(f"credential {self.token_id} is already revoked", field="token_id")
        self._revoked(reason=reason, by=by, at=at)

    @event("CredentialRevoked")
    def _revoked(self, reason: str, by: str, at: datetime) -> None:
        self.revoked_at = at
