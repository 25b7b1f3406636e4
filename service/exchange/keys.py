"""Our officials' keys and the directory documents nodes exchange (signed by the node key, pinned by fingerprint)."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from adapters import jose
from adapters.keystore import fingerprint, public_jwk
from domain.errors import InvalidInput, NotPermitted

DIRECTORY_TYP = "cmaa-directory+jws"
KEY_VALIDITY = timedelta(days=365)


class KeysAndDirectories:
    """Part of :class:`service.exchange.service.ExchangeService`: issue and rotate keys, export and import directories."""

    # == keys =====================================================================
    def issue_official_keys(self, official_id: str, by: str) -> list[str]:
        """New signing and encryption keys for an official; published in the directory."""
        now = self.clock.now()
        # Validate, then act: no key file is written for an official who cannot publish it.
        self.directory.directory().require_key_holder(official_id)
        kids = []
        for use in ("sig", "enc"):
            # Unique by construction: a rotation in the same instant must not reuse the retired kid.
            kid = f"{self.administration}.{official_id}.{use}.{now.strftime('%Y%m%dT%H%M%S')}.{secrets.token_hex(4)}"
            key = self.keystore.generate(kid, use)
            directory = self.directory.directory_for_update()
            directory.publish_key(kid=kid, owner=official_id, use=use, public_jwk=public_jwk(key), valid_from=now,
                                  valid_until=now + KEY_VALIDITY, by=by, at=now)
            self.store.commit(directory)
            kids.append(kid)
        return kids

    def rotate_official_keys(self, official_id: str, by: str) -> list[str]:
        """Retire the official's current keys (they still verify history) and issue new ones."""
        now = self.clock.now()
        self.directory.directory().require_key_holder(official_id)
        directory = self.directory.directory_for_update()
        for use in ("sig", "enc"):
            kid = directory.current_key(official_id, use, now)
            if kid:
                directory.retire_key(kid=kid, by=by, at=now)
        self.store.commit(directory)
        return self.issue_official_keys(official_id, by)

    def node_fingerprint(self) -> str:
        return fingerprint(public_jwk(self.keystore.node_signing_key()))

    # == directories ====================================================================
    def export_directory(self) -> str:
        """This node's directory, signed with the node key (JWS compact)."""
        directory = self.directory.directory()
        node_key = self.keystore.node_signing_key()
        officials: dict[str, dict] = {}
        for kid, key in sorted(directory.keys.items()):
            if not directory.publishes_keys_of(key["owner"]):
                continue
            record = directory.officials[key["owner"]]
            entry = officials.setdefault(key["owner"], {"name": record["name"], "keys": []})
            entry["keys"].append({"kid": kid, "use": key["use"], "jwk": key["jwk"],
                                  "valid_from": key["valid_from"].isoformat(),
                                  "valid_until": key["valid_until"].isoformat()})
        document = {"type": "cmaa-directory", "v": 1, "administration": self.administration, "name": directory.name,
                    "endpoint": self.endpoint, "issued_at": self.clock.now().isoformat(),
                    "node_key": public_jwk(node_key), "officials": officials}
        return jose.sign(document, node_key, DIRECTORY_TYP)

    def import_directory(self, token: str, pinned_fingerprint: str, by: str,
                         expected_administration: str | None = None) -> dict:
        """Import a partner's signed directory after checking its node key against the pin."""
        document, node_key = self.verify_partner_directory(token, pinned_fingerprint, expected_administration)
        self.store_partner_directory(token, document, node_key, pinned_fingerprint, by)
        return document

    def verify_partner_directory(self, token: str, pinned_fingerprint: str,
                                 expected_administration: str | None = None) -> tuple[dict, dict]:
        """A partner's signed directory, verified against the pinned node-key fingerprint: (document, node key).
        Raises :class:`NotPermitted` (another node key) or :class:`InvalidInput` (not a verifying directory)."""
        try:
            _, claimed = jose.unverified_header_and_payload(token.strip())
            node_key = claimed.get("node_key")
            if not isinstance(node_key, dict) or fingerprint(node_key) != pinned_fingerprint.strip():
                raise NotPermitted("the directory's node key does not match the pinned fingerprint; "
                                   "check the fingerprint exchanged out of band", field="fingerprint")
            _, document = jose.verify(token.strip(), lambda kid: jose.public_key(node_key), DIRECTORY_TYP)
        except jose.JoseFailure as failure:
            raise InvalidInput(f"the directory does not verify: {failure.reason}", field="directory") from None
        if document.get("type") != "cmaa-directory" or not isinstance(document.get("officials"), dict):
            raise InvalidInput("not a cmaa directory document", field="directory")
        administration = document.get("administration")
        if expected_administration and administration != expected_administration:
            raise InvalidInput(f"the directory is {administration}'s, not {expected_administration}'s",
                               field="directory")
        return document, node_key

    def store_partner_directory(self, token: str, document: dict, node_key: dict, pinned_fingerprint: str,
                                by: str) -> None:
        """Hold a verified directory; the directory refuses one not newer than the one held (rollback)."""
        now = self.clock.now()
        directory = self.directory.directory_for_update()
        directory.import_partner_directory(
            administration=document.get("administration"), issued_at=datetime.fromisoformat(document["issued_at"]),
            digest=jose.sha256_hex(token.strip().encode()), node_key=node_key, fingerprint=pinned_fingerprint.strip(),
            endpoint=document.get("endpoint"), officials=document["officials"], by=by, at=now)
        self.store.commit(directory)
