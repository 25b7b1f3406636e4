"""The node's directory: its own designated officials, its partners and theirs.

JP-NO Art. 11(1) and Nairobi Art. 6(1): communication passes directly between
officials *designated* by each administration. One directory aggregate per node
records every designation, revocation and partner registration as an event.
"""

from __future__ import annotations

import re
from datetime import datetime
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from domain.agreements import AgreementProfile
from domain.directory_terms import AgreementTerms
from domain.errors import InvalidInput, NotFound, NotPermitted

ROLES = ("official", "auditor", "dpo", "operator")
# An official id names key files and key ids: lower-case letters, digits, '.', '_', '-' (the API's pattern too).
OFFICIAL_ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
ADMINISTRATION_PATTERN = r"^[A-Z]{2}$"  # ISO 3166 alpha-2, as the API's AdminCode


def require_administration_code(administration: str) -> str:
    """An administration is named by its ISO 3166 alpha-2 code (checked before any rule about it is asked)."""
    if not re.fullmatch(ADMINISTRATION_PATTERN, administration):
        raise InvalidInput(f"administration {administration!r}: an administration code is 2 capital letters "
                           "(ISO 3166 alpha-2), such as JP or SE", field="administration")
    return administration


def directory_id(administration: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"cmaa:directory:{administration}")


class Directory(AgreementTerms, Aggregate):
    """One administration's directory: its designated officials and their public keys, its partners with what
    they published to us (officials, keys, endpoint, node key pin), and the agreements' periods in force.

    Long because: an aggregate with its ``@event`` methods — each command's check and the fact it records sit
    side by side, and the events' stored topics (``domain.directory:Directory.OfficialDesignated``) name this
    class, so moving them to another class would be a migration of every stored directory."""

    @staticmethod
    def create_id(administration: str, name: str) -> UUID:
        return directory_id(administration)

    @event("DirectoryCreated")
    def __init__(self, administration: str, name: str):
        self.administration = administration
        self.name = name
        self.officials: dict[str, dict] = {}
        self.partners: dict[str, dict] = {}
        self.periods: dict[str, dict] = {}
        self.keys: dict[str, dict] = {}  # this node's public keys by kid
        self.partner_keys: dict[str, dict] = {}  # imported partners' public keys by kid

    # -- own officials ---------------------------------------------------------
    def designate_official(self, *, official_id: str, name: str, email: str, roles: list[str], by: str, at: datetime):
        if not re.fullmatch(OFFICIAL_ID_PATTERN, official_id):
            raise InvalidInput(f"official id {official_id!r}: 1-64 lower-case letters, digits, '.', '_' or '-', "
                               "starting with a letter or digit", field="official_id")
        bad = [r for r in roles if r not in ROLES]
        if not roles or bad:
            raise InvalidInput(f"roles must be a non-empty subset of {', '.join(ROLES)}", field="roles")
        if not name or not name.strip():
            # The name is what partners read in the signed directory: an official is designated by name.
            raise InvalidInput("an official's name is required (the full name partners see)", field="name")
        current = self.officials.get(official_id)
        if current and current["active"]:
            raise InvalidInput(f"official {official_id} is already designated", field="official_id")
        self._official_designated(official_id=official_id, name=name, email=email, roles=roles, by=by, at=at)

    @event("OfficialDesignated")
    def _official_designated(self, official_id: str, name: str, email: str, roles: list, by: str, at: datetime):
        self.officials[official_id] = {"name": name, "email": email, "roles": roles, "active": True, "since": at}

    def revoke_official(self, *, official_id: str, reason: str, by: str, at: datetime):
        self.official(official_id)
        if not self.officials[official_id]["active"]:
            raise InvalidInput(f"official {official_id} is already revoked", field="official_id")
        self._official_revoked(official_id=official_id, reason=reason, by=by, at=at)

    @event("OfficialDesignationRevoked")
    def _official_revoked(self, official_id: str, reason: str, by: str, at: datetime):
        self.officials[official_id]["active"] = False

    def official(self, official_id: str) -> dict:
        try:
            return self.officials[official_id]
        except KeyError:
            raise NotFound(f"no official {official_id} at {self.administration}", field="official_id") from None

    def require_active(self, official_id: str, role: str | None = None) -> dict:
        record = self.officials.get(official_id)
        if record is None or not record["active"]:
            raise NotPermitted(f"{official_id} is not a designated official of {self.administration}")
        if role is not None and role not in record["roles"]:
            raise NotPermitted(f"official {official_id} does not hold the {role} role")
        return record

    def publishes_keys_of(self, official_id: str) -> bool:
        """Whether the signed directory publishes this official's keys: active and holding the official role."""
        record = self.officials.get(official_id)
        return record is not None and record["active"] and "official" in record["roles"]

    def require_key_holder(self, official_id: str) -> dict:
        """Signing and encryption keys are for active officials holding the official role: the signed
        directory publishes only theirs (an auditor, DPO or operator sends no envelopes)."""
        record = self.require_active(official_id)
        if "official" not in record["roles"]:
            raise NotPermitted(f"keys are issued only to officials holding the official role; {official_id} holds "
                               f"{', '.join(record['roles'])}")
        return record

    # -- partner administrations -------------------------------------------------
    def register_partner(
        self,
        *,
        administration: str,
        name: str,
        agreements: list[str],
        endpoint: str | None,
        languages: list[str],
        by: str,
        at: datetime,
    ):
        require_administration_code(administration)
        if administration == self.administration:
            raise InvalidInput("a node does not register its own administration as a partner", field="administration")
        if not agreements:
            raise InvalidInput("a partner is registered under at least one agreement", field="agreements")
        self._partner_registered(
            administration=administration,
            name=name,
            agreements=agreements,
            endpoint=endpoint,
            languages=languages,
            by=by,
            at=at,
        )

    @event("PartnerRegistered")
    def _partner_registered(
        self, administration: str, name: str, agreements: list, endpoint: str | None, languages: list, by: str, at
    ):
        officials = self.partners.get(administration, {}).get("officials", {})
        self.partners[administration] = {
            "name": name,
            "agreements": agreements,
            "endpoint": endpoint,
            "languages": languages,
            "officials": officials,
        }

    def designate_partner_official(self, *, administration: str, official_id: str, name: str, by: str, at: datetime):
        self.partner(administration)
        self._partner_official_designated(administration=administration, official_id=official_id, name=name, by=by, at=at)

    @event("PartnerOfficialDesignated")
    def _partner_official_designated(self, administration: str, official_id: str, name: str, by: str, at: datetime):
        self.partners[administration]["officials"][official_id] = {"name": name, "active": True, "since": at}

    def revoke_partner_official(self, *, administration: str, official_id: str, reason: str, by: str, at: datetime):
        officials = self.partner(administration)["officials"]
        if official_id not in officials or not officials[official_id]["active"]:
            raise NotFound(f"no active official {official_id} of {administration}", field="official_id")
        self._partner_official_revoked(administration=administration, official_id=official_id, reason=reason, by=by, at=at)

    @event("PartnerOfficialDesignationRevoked")
    def _partner_official_revoked(self, administration: str, official_id: str, reason: str, by: str, at: datetime):
        self.partners[administration]["officials"][official_id]["active"] = False

    def partner(self, administration: str) -> dict:
        try:
            return self.partners[administration]
        except KeyError:
            raise NotFound(
                f"administration {administration} is not a registered partner of this node",
                field="partner_administration",
            ) from None

    def require_partner(self, profile: AgreementProfile, administration: str) -> dict:
        """The partner is registered under this agreement, with designated officials."""
        partner = self.partner(administration)
        if profile.id not in partner["agreements"]:
            raise NotPermitted(
                f"{administration} is not registered as a partner under {profile.short}",
                article=profile.cite(profile.raw["designated_officials_article"]),
                field="agreement",
            )
        return partner

    def require_partner_officials(self, profile: AgreementProfile, administration: str, officials: list[str]) -> None:
        """Communication is addressed to the partner's designated officials only."""
        known = self.require_partner(profile, administration)["officials"]
        for official_id in officials:
            if official_id not in known or not known[official_id]["active"]:
                raise NotPermitted(
                    f"{official_id} is not a designated official of {administration}",
                    article=profile.cite(profile.raw["designated_officials_article"]),
                    field="addressed_to",
                )

    # -- keys (issue, rotate); public parts only: private keys stay in the key store ----
    def publish_key(self, *, kid: str, owner: str, use: str, public_jwk: dict, valid_from: datetime,
                    valid_until: datetime, by: str, at: datetime):
        if use not in ("sig", "enc"):
            raise InvalidInput("a key's use is sig or enc", field="use")
        if owner != "node":
            self.require_key_holder(owner)
        if kid in self.keys:
            raise InvalidInput(f"key {kid} is already published", field="kid")
        self._key_published(kid=kid, owner=owner, use=use, public_jwk=public_jwk, valid_from=valid_from,
                            valid_until=valid_until, by=by, at=at)

    @event("KeyPublished")
    def _key_published(self, kid: str, owner: str, use: str, public_jwk: dict, valid_from: datetime,
                       valid_until: datetime, by: str, at: datetime):
        self.keys[kid] = {"owner": owner, "use": use, "jwk": public_jwk, "valid_from": valid_from,
                          "valid_until": valid_until}

    def retire_key(self, *, kid: str, by: str, at: datetime):
        """End a key's validity now: it still verifies history, it signs nothing new."""
        if kid not in self.keys:
            raise NotFound(f"no key {kid}", field="kid")
        if self.keys[kid]["valid_until"] <= at:
            raise InvalidInput(f"key {kid} is no longer valid", field="kid")
        self._key_retired(kid=kid, by=by, at=at)

    @event("KeyRetired")
    def _key_retired(self, kid: str, by: str, at: datetime):
        self.keys[kid]["valid_until"] = at

    def current_key(self, owner: str, use: str, now: datetime) -> str | None:
        """The newest key of ``owner`` valid now, or ``None``."""
        valid = [(k["valid_from"], kid) for kid, k in self.keys.items()
                 if k["owner"] == owner and k["use"] == use and k["valid_from"] <= now < k["valid_until"]]
        return max(valid)[1] if valid else None

    # -- partners' published directories -------------------------------------------------
    def import_partner_directory(self, *, administration: str, issued_at: datetime, digest: str,
                                 node_key: dict, fingerprint: str, endpoint: str | None, officials: dict,
                                 by: str, at: datetime):
        partner = self.partner(administration)
        previous = partner.get("directory")
        if previous and issued_at <= previous["issued_at"]:
            # A replayed older directory would resurrect revoked officials or keys.
            raise InvalidInput(
                f"the directory of {administration} issued at {issued_at.isoformat()} is not newer than the "
                f"one imported ({previous['issued_at'].isoformat()})",
                field="directory",
            )
        if previous and previous["fingerprint"] != fingerprint:
            raise NotPermitted(f"the directory of {administration} is signed by another node key than before")
        self._partner_directory_imported(administration=administration, issued_at=issued_at, digest=digest,
                                         node_key=node_key, fingerprint=fingerprint, endpoint=endpoint,
                                         officials=officials, by=by, at=at)

    @event("PartnerDirectoryImported")
    def _partner_directory_imported(self, administration: str, issued_at: datetime, digest: str, node_key: dict,
                                    fingerprint: str, endpoint: str | None, officials: dict, by: str,
                                    at: datetime):
        partner = self.partners[administration]
        partner["directory"] = {"issued_at": issued_at, "digest": digest, "fingerprint": fingerprint,
                                "node_key": node_key}
        if endpoint:
            partner["endpoint"] = endpoint
        partner["officials"] = {
            official_id: {"name": o["name"], "active": True, "since": at} for official_id, o in officials.items()
        }
        self.partner_keys = {kid: k for kid, k in self.partner_keys.items() if k["administration"] != administration}
        for official_id, o in officials.items():
            for key in o["keys"]:
                self.partner_keys[key["kid"]] = {
                    "administration": administration, "official": official_id, "use": key["use"],
                    "jwk": key["jwk"], "valid_from": key["valid_from"], "valid_until": key["valid_until"],
                }

    # -- a partner that rewrote its history (audit chain witnessing) ----------------------------
    def raise_history_alarm(self, *, administration: str, reason: str, held: str, presented: str, by: str,
                            at: datetime):
        self.partner(administration)
        self._history_alarm_raised(administration=administration, reason=reason, held=held, presented=presented,
                                   by=by, at=at)

    @event("PartnerHistoryAlarmRaised")
    def _history_alarm_raised(self, administration: str, reason: str, held: str, presented: str, by: str,
                              at: datetime):
        self.partners[administration]["alarm"] = {"reason": reason, "at": at}

    def clear_history_alarm(self, *, administration: str, resolution: str, by: str, at: datetime):
        if not self.partner(administration).get("alarm"):
            raise InvalidInput(f"no alarm is raised for {administration}", field="administration")
        self._history_alarm_cleared(administration=administration, resolution=resolution, by=by, at=at)

    @event("PartnerHistoryAlarmCleared")
    def _history_alarm_cleared(self, administration: str, resolution: str, by: str, at: datetime):
        self.partners[administration]["alarm"] = None

    def partner_encryption_keys(self, administration: str, officials: list[str], now: datetime) -> dict[str, dict]:
        """The newest valid encryption key of each addressed partner official."""
        chosen: dict[str, tuple] = {}
        for kid, k in self.partner_keys.items():
            if (k["administration"] == administration and k["use"] == "enc" and k["official"] in officials
                    and datetime.fromisoformat(k["valid_from"]) <= now < datetime.fromisoformat(k["valid_until"])):
                if k["official"] not in chosen or k["valid_from"] > chosen[k["official"]][0]:
                    chosen[k["official"]] = (k["valid_from"], kid, k["jwk"])
        return {kid: jwk for _, kid, jwk in chosen.values()}
