"""The envelope exchange: keys, directories, outgoing envelopes, the inbox.

Outgoing: a case command queues an outbox row in the same transaction as its
event (:meth:`ExchangeService.outgoing`); the courier (``service/exchange/courier.py``)
seals and delivers it. Incoming: :meth:`ExchangeService.receive` verifies an
envelope in the numbered steps of ``docs/envelope-format.md`` before anything
is stored, applies it, and answers with a signed receipt.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from pydantic import ValidationError

from adapters import jose
from adapters.exchange_tables import inbox_row, outbox_row
from service.ops.observability import current_request_id
from adapters.keystore import KeyStore, fingerprint, public_jwk
from adapters.store import EventStore
from domain.agreements import Agreements
from domain.case import RECEIVING, REQUESTED, AssistanceCase
from domain.errors import ConcurrentUpdate, DomainError, InvalidInput, NotFound, NotPermitted
from domain.disclosure import tighten
from domain.information import normalise_items
from domain.personal_data import ARTICLE as PD_ARTICLE
from domain.personal_data import ProcessingRestricted
from domain.messages import KINDS, OPENING, RECEIVER_SIDES, local_case_id
from domain.requests import RequestCheck, RequestContent, check_request
from service.exchange.directory import DirectoryService
from service.exchange.schemas import BODY_SCHEMAS, EnvelopePayload

DIRECTORY_TYP = "cmaa-directory+jws"
RECEIPT_TYP = "cmaa-receipt+jws"
REJECTION_TYP = "cmaa-rejection+jws"
KEY_VALIDITY = timedelta(days=365)
PERSONAL_KINDS = frozenset({"request", "spontaneous", "reply", "rectification_notice"})
APPLY_ATTEMPTS = 3


class EnvelopeRejected(Exception):
    """An inbound envelope failed verification step ``step``; nothing was stored."""

    STATUS = {1: 400, 2: 403, 3: 400, 4: 400, 5: 403, 6: 403, 7: 400, 8: 403, 9: 403, 10: 403, 11: 409, 12: 409,
              13: 422, 14: 422, 15: 409}

    def __init__(self, step: int, code: str, reason: str, envelope_id: str | None = None, article: str | None = None):
        self.step, self.code, self.reason = step, code, reason
        self.envelope_id, self.article = envelope_id, article
        super().__init__(f"step {step} ({code}): {reason}")

    @property
    def status(self) -> int:
        return 409 if self.code == "concurrent-update" else self.STATUS.get(self.step, 400)


@dataclass
class ExchangeService:
    store: EventStore
    agreements: Agreements
    directory: DirectoryService
    clock: Any
    keystore: KeyStore
    endpoint: str | None = None
    max_skew: timedelta = timedelta(minutes=5)
    wake: Any = None  # set by the courier thread: called when an envelope is queued
    unsafe_fault_exit_after_store: bool = False  # fault injection for tests, see Settings
    witness: Any = None  # service.exchange.witness.Witness: partners witness each other's logs
    limiter: Any = None  # service.http.ratelimit.RateLimiter: inbound envelopes per partner
    vault: Any = None  # adapters.vault.Vault: personal data sealed in the outbox too

    @property
    def administration(self) -> str:
        return self.directory.administration

    # == keys ===========================================================================
    def issue_official_keys(self, official_id: str, by: str) -> list[str]:
        """New signing and encryption keys for an official; published in the directory."""
        now = self.clock.now()
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
            record = directory.officials.get(key["owner"])
            if record is None or not record["active"] or "official" not in record["roles"]:
                continue
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
        try:
            _, claimed = jose.unverified_header_and_payload(token.strip())
            node_key = claimed.get("node_key")
            if not isinstance(node_key, dict) or fingerprint(node_key) != pinned_fingerprint.strip():
                raise NotPermitted("the directory's node key does not match the pinned fingerprint; "
                                   "check the fingerprint exchanged out of band", field="fingerprint")
            from joserfc.jwk import OKPKey

            _, document = jose.verify(token.strip(), lambda kid: OKPKey.import_key(node_key), DIRECTORY_TYP)
        except jose.JoseFailure as failure:
            raise InvalidInput(f"the directory does not verify: {failure.reason}", field="directory") from None
        if document.get("type") != "cmaa-directory" or not isinstance(document.get("officials"), dict):
            raise InvalidInput("not a cmaa directory document", field="directory")
        administration = document.get("administration")
        if expected_administration and administration != expected_administration:
            raise InvalidInput(f"the directory is {administration}'s, not {expected_administration}'s",
                               field="directory")
        now = self.clock.now()
        directory = self.directory.directory_for_update()
        directory.import_partner_directory(
            administration=administration, issued_at=datetime.fromisoformat(document["issued_at"]),
            digest=jose.sha256_hex(token.strip().encode()), node_key=node_key, fingerprint=pinned_fingerprint.strip(),
            endpoint=document.get("endpoint"), officials=document["officials"], by=by, at=now)
        self.store.commit(directory)
        return document

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
                payload["body"] = self.vault.seal_event(f"Outbox:{kind}", case.id, f"outbox:{envelope_id}", body,
                                                        agreement=case.agreement)
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
        from joserfc.jwk import OKPKey

        record = self.directory.directory().partner(partner)
        if "directory" not in record:
            raise NotFound(f"no imported directory for {partner}")
        return OKPKey.import_key(record["directory"]["node_key"])

    # == incoming ======================================================================
    def receive(self, raw: bytes) -> str:
        """Verify, de-duplicate, apply; return the signed receipt. Raises :class:`EnvelopeRejected`."""
        digest = jose.sha256_hex(raw)
        # 1. Shape: a JWE JSON serialization, no keys carried in headers.
        try:
            data = jose.as_general(json.loads(raw))
            kids = jose.recipient_kids(data)
        except (ValueError, UnicodeDecodeError):
            raise EnvelopeRejected(1, "malformed", "the body is not JSON") from None
        except jose.JoseFailure as failure:
            raise EnvelopeRejected(1, failure.code, failure.reason) from None
        # 2. Addressed to this node: a recipient kid is one of our encryption keys.
        directory = self.directory.directory()
        ours = [k for k in kids if isinstance(k, str) and directory.keys.get(k, {}).get("use") == "enc"
                and self.keystore.has(k)]
        if not ours:
            raise EnvelopeRejected(2, "not-addressed-here", f"no recipient key of {self.administration} in the envelope")
        recipient_kid = ours[0]
        recipient_official = directory.keys[recipient_kid]["owner"]
        # 3. Decrypt with the pinned algorithms: a tampered ciphertext, tag or header fails here.
        try:
            inner = jose.decrypt(data, recipient_kid, self.keystore.private(recipient_kid))
        except jose.JoseFailure as failure:
            raise EnvelopeRejected(3, failure.code, failure.reason) from None
        # 4. The inner JWS: Ed25519 only, our type, a kid, no embedded key.
        try:
            header, _ = jose.unverified_header_and_payload(inner)
            sender_kid = jose.check_jws_header(header, jose.ENVELOPE_JWS_TYP)
        except jose.JoseFailure as failure:
            raise EnvelopeRejected(4, failure.code, failure.reason) from None
        # 5. Known sender: the kid is a signing key in an imported partner directory.
        sender_key = directory.partner_keys.get(sender_kid)
        if sender_key is None or sender_key["use"] != "sig":
            raise EnvelopeRejected(5, "unknown-sender", f"no partner signing key {sender_kid!r} in the directory")
        # 6. The signature.
        try:
            from joserfc.jwk import OKPKey

            _, claims = jose.verify(inner, lambda kid: OKPKey.import_key(sender_key["jwk"]), jose.ENVELOPE_JWS_TYP)
        except jose.JoseFailure as failure:
            raise EnvelopeRejected(6, failure.code, failure.reason) from None
        # 7. The signed content has the published shape.
        try:
            envelope = EnvelopePayload.model_validate(claims)
        except ValidationError as error:
            first = error.errors()[0]
            raise EnvelopeRejected(7, "malformed-payload", f"{'.'.join(map(str, first['loc']))}: {first['msg']}",
                                   envelope_id=claims.get("id") if isinstance(claims.get("id"), str) else None) \
                from None
        eid = envelope.id
        # 8. The signer is the official named as sender, still designated by the partner.
        sender = envelope.from_
        partner = directory.partners.get(sender.administration, {})
        if (sender_key["administration"], sender_key["official"]) != (sender.administration, sender.official) or \
                not partner.get("officials", {}).get(sender.official, {}).get("active"):
            raise EnvelopeRejected(8, "sender-mismatch", "the signing key does not belong to the named sender, or the "
                                   "sender is not a designated official", eid)
        # The sender is authentic from here: count it against its partner's rate limit (429,
        # unsigned, nothing stored; the sender's courier retries after Retry-After).
        if self.limiter is not None:
            self.limiter.hit("partner", sender.administration)
        # 9. The key was valid when the envelope was made and sent.
        valid_from = datetime.fromisoformat(sender_key["valid_from"])
        valid_until = datetime.fromisoformat(sender_key["valid_until"])
        if not (valid_from <= envelope.created_at < valid_until and valid_from <= envelope.sent_at < valid_until):
            raise EnvelopeRejected(9, "key-not-valid", f"key {sender_kid} is valid {valid_from.isoformat()} to "
                                   f"{valid_until.isoformat()}", eid)
        # 10. The signed recipient is this node and the official whose key opened it: an envelope
        #     re-encrypted by a third party still names that party inside the signature.
        if envelope.to.administration != self.administration or recipient_official not in envelope.to.officials:
            raise EnvelopeRejected(10, "misaddressed", f"the envelope is signed for {envelope.to.administration} "
                                   f"({', '.join(envelope.to.officials)}), not for {self.administration} "
                                   f"({recipient_official})", eid)
        # 11. Fresh: sent within the allowed clock skew.
        now = self.clock.now()
        if abs(now - envelope.sent_at) > self.max_skew:
            raise EnvelopeRejected(11, "stale-or-future", f"sent_at {envelope.sent_at.isoformat()} is more than "
                                   f"{int(self.max_skew.total_seconds())} s from {now.isoformat()}", eid)
        # 12. Unseen id; a re-sealed retry of an applied envelope gets the same receipt.
        content = {k: v for k, v in claims.items() if k not in ("sent_at", "checkpoint")}
        content_sha256 = jose.sha256_hex(jose.canonical(content))
        seen = self.store.exchange.inbox_get(eid)
        if seen is not None:
            return self._answer_seen(seen, digest, content_sha256, eid)
        # 13. The sender's history: its checkpoint verifies and extends what we witnessed before
        #     (stops a partner that rewrote, truncated or forked its log); then we cosign it.
        cosigned = None
        if self.witness is not None:
            try:
                self.witness.require_no_alarm(sender.administration)
                cosigned = self.witness.observe(sender.administration, envelope.checkpoint)
            except DomainError as error:
                raise EnvelopeRejected(13, error.code, str(error), eid) from None
        # 13.-15. The agreement, the kind and the case's state; then apply and store atomically.
        receipt = self._sign_receipt(eid, digest, sender.administration, now, cosigned)
        for attempt in range(APPLY_ATTEMPTS):
            try:
                self._apply(envelope, eid, now, receipt, digest, content_sha256, directory)
            except (ConcurrentUpdate, EnvelopeRejected) as failure:
                # Another replica may have applied this very envelope since step 12.
                seen = self.store.exchange.inbox_get(eid)
                if seen is not None:
                    return self._answer_seen(seen, digest, content_sha256, eid)
                if isinstance(failure, EnvelopeRejected):
                    raise
                if attempt == APPLY_ATTEMPTS - 1:
                    raise EnvelopeRejected(15, "concurrent-update", "the case changed concurrently; retry",
                                           eid) from None
                continue
            if self.unsafe_fault_exit_after_store:
                os._exit(70)  # stored, never answered: the sender must retry and get the same receipt
            return receipt
        raise AssertionError("unreachable")

    def _answer_seen(self, seen: dict, digest: str, content_sha256: str, eid: str) -> str:
        if seen["envelope_sha256"] == digest:
            raise EnvelopeRejected(12, "replayed", f"envelope {eid} was already received in exactly this form", eid)
        if seen["content_sha256"] != content_sha256:
            raise EnvelopeRejected(12, "id-reused", f"envelope id {eid} was already used for other content", eid)
        return seen["receipt"]

    def _sign_receipt(self, eid: str, digest: str, sender: str, now: datetime, cosigned: str | None = None) -> str:
        """The receipt carries our latest checkpoint and our cosignature of the sender's."""
        own = self.witness.latest_note() if self.witness else None
        return jose.sign({"type": "cmaa-receipt", "envelope_id": eid, "envelope_sha256": digest,
                          "sender": sender, "receiver": self.administration, "received_at": now.isoformat(),
                          "status": "accepted", "checkpoint": own, "cosigned_checkpoint": cosigned},
                         self.keystore.node_signing_key(), RECEIPT_TYP)

    def sign_rejection(self, rejection: EnvelopeRejected, digest: str) -> str:
        return jose.sign({"type": "cmaa-rejection", "envelope_id": rejection.envelope_id, "envelope_sha256": digest,
                          "receiver": self.administration, "step": rejection.step, "code": rejection.code,
                          "reason": rejection.reason, "article": rejection.article,
                          "at": self.clock.now().isoformat()}, self.keystore.node_signing_key(), REJECTION_TYP)

    def _apply(self, envelope: EnvelopePayload, eid: str, now: datetime, receipt: str, digest: str,
               content_sha256: str, directory) -> UUID:
        sender = envelope.from_
        # 13. The agreement binds this partner at this node.
        try:
            profile = self.agreements.get(envelope.agreement)
            directory.require_partner(profile, sender.administration)
        except DomainError as error:
            raise EnvelopeRejected(13, error.code, str(error), eid, error.article) from None
        # 14. The kind is known, its body has the published shape.
        schema = BODY_SCHEMAS.get(envelope.kind)
        if schema is None or envelope.kind not in KINDS:
            raise EnvelopeRejected(14, "unknown-kind", f"unknown message kind {envelope.kind!r}", eid)
        try:
            body = schema.model_validate(envelope.body).model_dump(mode="json")
        except ValidationError as error:
            first = error.errors()[0]
            raise EnvelopeRejected(14, "malformed-body", f"body.{'.'.join(map(str, first['loc']))}: {first['msg']}",
                                   eid) from None
        exchange_id = UUID(envelope.case.exchange_id)
        case_id = local_case_id(self.administration, envelope.case.opened_by, exchange_id)
        actor = {"administration": sender.administration, "official": sender.official}
        if envelope.case.opened_by not in (self.administration, sender.administration):
            raise EnvelopeRejected(14, "foreign-case", "the case was opened by neither party", eid)
        try:
            if envelope.kind in OPENING:
                if envelope.case.opened_by != sender.administration:
                    raise EnvelopeRejected(14, "wrong-direction", f"a {envelope.kind} opens the sender's case", eid)
                case = self._open_from(envelope, profile, body, case_id, exchange_id, actor, now, eid, directory)
            else:
                case = self._step_on(envelope, profile, body, case_id, actor, now, eid)
        except DomainError as error:
            # 15. The case's state allows this step (or, for a request, the treaty rules hold).
            step = 13 if error.code in ("agreement-not-in-force", "request-incomplete", "treaty-rule-violation") \
                else 15
            raise EnvelopeRejected(step, error.code, str(error), eid, error.article) from None
        self.store.commit(case, inbox=inbox_row(envelope_id=eid, sender=sender.administration,
                                                content_sha256=content_sha256, envelope_sha256=digest,
                                                receipt=receipt, case_id=str(case_id)))
        return case_id

    def _open_from(self, envelope, profile, body, case_id, exchange_id, actor, now, eid, directory):
        if self.store.exists(case_id):
            raise EnvelopeRejected(14, "case-exists", f"case {envelope.case.exchange_id} was already opened", eid)
        sender = envelope.from_.administration
        common = dict(case_id=case_id, agreement=profile.id, own_administration=self.administration,
                      partner_administration=sender, reference=envelope.case.reference,
                      addressed_to=list(envelope.to.officials), by=actor, at=now, exchange_id=exchange_id,
                      via_envelope=eid)
        if envelope.kind == "request":
            content = RequestContent.from_dict(body["content"])
            article = check_request(RequestCheck(
                profile=profile, period=directory.period(profile), kind=body["kind"], language=body["language"],
                requesting=sender, requested=self.administration, content=content, day=now.date(),
                bilateral_languages=tuple(directory.partners[sender].get("languages", ()))))
            articles = [article, profile.cite(profile.raw["languages"]["article"])]
            due = None
            if body["channel"] == "oral":
                articles.append(profile.cite(profile.oral_requests["article"]))
                if profile.oral_requests["written_confirmation"] == "required":
                    due = now + timedelta(days=int(profile.oral_requests["confirmation_due_days"]))
            return AssistanceCase.open(AssistanceCase.RequestReceived, side=REQUESTED, kind=body["kind"],
                                       language=body["language"], content=content.to_dict(), articles=articles,
                                       channel=body["channel"], confirmation_due_by=due, **common)
        rule = profile.kind_rule("spontaneous", sender, self.administration)
        items = normalise_items(profile, body["items"], envelope.case.reference)
        return AssistanceCase.open(AssistanceCase.SpontaneousAssistanceReceived, side=RECEIVING, kind="spontaneous",
                                   language=body["language"],
                                   content={"reason": body["relevance"], "case_description": body["case_description"],
                                            "targets": body.get("targets", [])},
                                   articles=[rule.article, profile.cite(profile.use_restrictions["article"])],
                                   channel="envelope", items=items, **common)

    def _step_on(self, envelope, profile, body, case_id, actor, now, eid):
        case = self.store.load(case_id, NotFound(f"no case for exchange id {envelope.case.exchange_id}"))
        if not isinstance(case, AssistanceCase) or case.partner_administration != actor["administration"] or \
                case.agreement != profile.id or case.exchange_id != UUID(envelope.case.exchange_id):
            raise EnvelopeRejected(14, "wrong-case", "the envelope's case does not match a case with this partner "
                                   "under this agreement", eid)
        if case.side not in RECEIVER_SIDES[envelope.kind]:
            raise EnvelopeRejected(14, "wrong-direction", f"a {envelope.kind} is not sent to the {case.side} side", eid)
        rules = profile.raw["disclosure"]
        if envelope.kind == "written_confirmation":
            case.record_partner_confirmation(envelope_id=eid, by=actor, at=now,
                                             article=profile.cite(profile.oral_requests["article"]),
                                             reference=body["reference"])
        elif envelope.kind == "consent_request":
            article = rules["criminal_proceedings"]["article"] if body["action"] == "criminal_proceedings" \
                else rules["consent_article"]
            case.record_consent_request(envelope_id=eid, by=actor, at=now, article=profile.cite(article), **body)
        elif envelope.kind in ("consent_grant", "consent_denial"):
            case.record_consent_answer(consent_id=body["consent_id"], granted=envelope.kind == "consent_grant",
                                       conditions=body.get("conditions", []), expires_on=body.get("expires_on"),
                                       reasons=body.get("reasons"), envelope_id=eid, by=actor, at=now,
                                       article=profile.cite(rules["consent_article"]))
        elif envelope.kind == "restriction_notice":
            current = case.items_by_id.get(body["item_id"])
            if current is None:
                raise EnvelopeRejected(15, "unknown-item", f"no item {body['item_id']} in this case", eid)
            tightened = tighten(profile, current["restrictions"], body["restrictions"], "restrictions")
            case.record_restrictions_notice(item_id=body["item_id"], restrictions=tightened, envelope_id=eid,
                                            by=actor, at=now, article=profile.cite(rules["restriction_notice_article"]))
        elif envelope.kind == "rectification_notice":
            # JP-NO Art. 9(2): the partner's DPO corrected a target's record; correct ours the same way.
            targets = case.content.get("targets") or []
            index = body["target_index"]
            current = targets[index] if index < len(targets) else None
            if not isinstance(current, dict) or "erased" in current:
                raise EnvelopeRejected(15, "no-such-target", f"this case holds no target {index} to rectify "
                                       "(none, or its personal data was erased)", eid, PD_ARTICLE)
            subjects = self.vault.find_subjects(current) if self.vault is not None else []
            case.rectify_target(subject_id=subjects[0] if subjects else "", index=index, value=body["value"],
                                reason=body["reason"], by=actor, at=now, article=PD_ARTICLE, envelope_id=eid)
        elif envelope.kind in ("advance_notice", "disclosure_notice"):
            notice = {k: v for k, v in body.items() if k != "notice_id"}
            case.record_partner_notice(notice_id=body["notice_id"], kind=envelope.kind, notice=notice,
                                       envelope_id=eid, by=actor, at=now,
                                       article=profile.cite(rules["legal_obligation"]["article"]
                                                            if envelope.kind == "advance_notice"
                                                            else rules["consent_article"]))
        else:
            if envelope.kind == "reply":
                body = {**body, "items": normalise_items(profile, body["items"], case.reference)}
            case.record_partner_step(step=envelope.kind, envelope_id=eid, by=actor, at=now,
                                     articles=self._articles_for(profile, envelope.kind, body), body=body)
        return case

    @staticmethod
    def _articles_for(profile, kind: str, body: dict) -> list[str]:
        if kind == "acknowledgement":
            return [profile.article("execution_article")]
        if kind == "forwarding":
            return [profile.article("forwarding_article")]
        if kind == "reply":
            return [profile.article("reply_article"), profile.cite(profile.use_restrictions["article"])]
        if kind == "refusal":
            return [profile.article("refusal_reasons_article")]
        if kind == "postponement":
            return [profile.article("postponement_article"), profile.article("postponement_reasons_article")]
        return [profile.consultation_article(body["subject"])]


def body_for(kind: str, case: AssistanceCase, **fields: Any) -> dict[str, Any]:
    """The wire body of an outgoing step (what a partner needs, nothing internal)."""
    if kind == "request":
        return {"kind": case.kind, "language": case.language, "channel": case.channel, "content": case.content}
    if kind == "spontaneous":
        return {"relevance": case.content.get("reason", ""), "case_description": case.content.get("case_description", ""),
                "targets": case.content.get("targets", []), "language": case.language, "items": case.items}
    return fields


