"""Outgoing envelopes: the outbox row of a step, sealing (sign, then encrypt), and checking the partner's answer."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

from adapters import jose
from adapters.exchange_tables import outbox_row
from domain.case import AssistanceCase
from domain.messages import OPENING
from domain.errors import NotFound, NotPermitted
from domain.personal_data import ARTICLE as PD_ARTICLE
from domain.personal_data import ProcessingRestricted
from service.ops.observability import current_request_id

RECEIPT_TYP = "cmaa-receipt+jws"
REJECTION_TYP = "cmaa-rejection+jws"
PERSONAL_KINDS = frozenset({"request", "spontaneous", "reply", "rectification_notice"})


class Outbox:
    """Part of :class:`service.exchange.service.ExchangeService`: what we send and what the partner answers."""

    # == outgoing ======================================================================
    def outgoing(self, case: AssistanceCase, who_official: str, kind: str, body: dict[str, Any]) -> list[dict]:
        """The outbox row for a step on ``case``, or none when the partner has no
        imported directory (then the step is recorded here only: a manual channel)."""
        directory = self.directory.directory()
        partner = directory.partners.get(case.partner_administration)
        if not partner or "directory" not in partner or case.exchange_id is None:
            return []
        recipients = self._recipients(case, partner)
        envelope_id = str(uuid4())
        opened_by = self.administration if case.side in (OPENING.values()) else case.partner_administration
        payload = {
            "v": 1, "id": envelope_id, "created_at": self.clock.now().isoformat(),
            "from": {"administration": self.administration, "official": who_official},
            "to": {"administration": case.partner_administration, "officials": recipients},
            "agreement": case.agreement,
            "case": {"exchange_id": str(case.exchange_id), "opened_by": opened_by, "reference": case.reference},
            "kind": kind, "body": body,
        }
        if self.vault is not None and kind in PERSONAL_KINDS:
            # JP-NO Art. 9(2): no further processing of a restricted subject's data; what waits in the
            # outbox is sealed like the events, and is erased with them.
            targets = (body.get("content") or body).get("targets") or []
            with self.vault.atomic(write=True):  # the check and the sealing: one vault transaction
                since = self.vault.restricted_since(str(case.id), targets)
                if since:
                    raise ProcessingRestricted(
                        f"the data protection officer restricted processing of personal data in this case on "
                        f"{since}; a {kind} carrying it cannot be sent until the restriction is lifted",
                        article=PD_ARTICLE)
                # Retained from the node's day, as the event carrying the same data (one key for both).
                # A case being opened (its first event not stored yet) has no keys: made without a look-up.
                pending = case.pending_events
                payload["body"] = self.vault.seal_event(f"Outbox:{kind}", case.id, f"outbox:{envelope_id}", body,
                                                        at=self.clock.now(), agreement=case.agreement,
                                                        fresh=bool(pending) and pending[0].originator_version == 1)
        return [outbox_row(envelope_id=envelope_id, case_id=str(case.id), partner=case.partner_administration,
                           kind=kind, payload=payload, request_id=current_request_id())]

    def open_outbox_payload(self, row: dict) -> tuple[dict, list[str]]:
        """An outbox row's payload with its personal data opened; the markers of any erased part."""
        payload, erased = json.loads(row["payload"]), []
        if self.vault is not None:
            self.vault.unseal_event(f"Outbox:{row['kind']}", row["case_id"], f"outbox:{row['envelope_id']}",
                                    payload["body"], erased)
        return payload, erased

    def _recipients(self, case: AssistanceCase, partner: dict) -> list[str]:
        """Answers go to the partner official who opened the case; openings to those addressed
        (or, if none was named, to every designated official of the partner)."""
        if case.opened_by.get("administration") == case.partner_administration:
            return [case.opened_by["official"]]
        if case.addressed_to:
            return list(case.addressed_to)
        return sorted(o for o, record in partner["officials"].items() if record["active"])

    def seal(self, payload: dict[str, Any]) -> bytes:
        """Sign with the sender's current key, encrypt to each addressed official's key."""
        now = self.clock.now()
        directory = self.directory.directory()
        sender = payload["from"]["official"]
        kid = directory.current_key(sender, "sig", now)
        if kid is None:
            raise NotFound(f"official {sender} has no valid signing key; run `cmaa keys issue {sender}`")
        to = payload["to"]
        recipients = directory.partner_encryption_keys(to["administration"], to["officials"], now)
        if not recipients:
            raise NotFound(f"no valid encryption key for {', '.join(to['officials'])} of {to['administration']}; "
                           "import the partner's current directory")
        checkpoint = self.witness.latest_note() if self.witness else None
        signed = jose.sign({**payload, "sent_at": now.isoformat(), "checkpoint": checkpoint},
                           self.keystore.private(kid), jose.ENVELOPE_JWS_TYP)
        return jose.canonical(jose.encrypt(signed, recipients))

    def verify_receipt(self, partner: str, receipt: str, envelope_id: str, digests: list[str]) -> dict:
        node_key = self._partner_node_key(partner)
        try:
            _, claims = jose.verify(receipt, lambda kid: node_key, RECEIPT_TYP)
        except jose.JoseFailure as failure:
            raise NotPermitted(f"the receipt from {partner} does not verify: {failure.reason}") from None
        if claims.get("envelope_id") != envelope_id or claims.get("envelope_sha256") not in digests \
                or claims.get("receiver") != partner or claims.get("sender") != self.administration:
            raise NotPermitted(f"the receipt from {partner} is not for envelope {envelope_id}")
        return claims

    def verify_rejection(self, partner: str, token: str) -> dict | None:
        try:
            node_key = self._partner_node_key(partner)
            return jose.verify(token, lambda kid: node_key, REJECTION_TYP)[1]
        except (jose.JoseFailure, NotFound, NotPermitted):
            return None

    def _partner_node_key(self, partner: str):
        record = self.directory.directory().partner(partner)
        if "directory" not in record:
            raise NotFound(f"no imported directory for {partner}")
        return jose.public_key(record["directory"]["node_key"])


def body_for(kind: str, case: AssistanceCase, **fields: Any) -> dict[str, Any]:
    """The wire body of an outgoing step (what a partner needs, nothing internal)."""
    if kind == "request":
        return {"kind": case.kind, "language": case.language, "channel": case.channel, "content": case.content}
    if kind == "spontaneous":
        return {"relevance": case.content.get("reason", ""), "case_description": case.content.get("case_description", ""),
                "targets": case.content.get("targets", []), "language": case.language, "items": case.items}
    return fields


