"""The inbox: an inbound envelope verified in the numbered steps of ``docs/envelope-format.md`` §3.1, one function
per step run in order, before anything is stored; then applied (``apply.py``) and answered with a signed receipt."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable

from pydantic import ValidationError

from adapters import jose
from domain.errors import ConcurrentUpdate, DomainError, as_prose
from service.exchange.outbox import RECEIPT_TYP, REJECTION_TYP
from service.exchange.refresh import OK as REFRESHED
from service.exchange.rejection import EnvelopeRejected
from service.exchange.schemas import EnvelopePayload

APPLY_ATTEMPTS = 3


@dataclass
class Inbound:
    """What the steps have learnt so far about one inbound envelope."""

    raw: bytes
    digest: str
    directory: Any = None
    data: dict | None = None
    kids: list | None = None
    recipient_kid: str = ""
    recipient_official: str = ""
    inner: str = ""
    sender_kid: str = ""
    sender_key: dict | None = None
    claims: dict | None = None
    envelope: EnvelopePayload | None = None
    now: datetime | None = None
    content_sha256: str = ""
    cosigned: str | None = None

    @property
    def eid(self) -> str | None:
        return self.envelope.id if self.envelope is not None else None


def step_1_shape(inbox, m: Inbound) -> None:
    """1. A JWE JSON serialization, no keys carried in headers (stops garbage and key injection)."""
    try:
        m.data = jose.as_general(json.loads(m.raw))
        m.kids = jose.recipient_kids(m.data)
    except (ValueError, UnicodeDecodeError):
        raise EnvelopeRejected(1, "malformed", "the body is not JSON") from None
    except jose.JoseFailure as failure:
        raise EnvelopeRejected(1, failure.code, failure.reason) from None


def step_2_addressed_here(inbox, m: Inbound) -> None:
    """2. A recipient kid is one of our encryption keys (stops envelopes for someone else)."""
    m.directory = inbox.directory.directory()
    ours = [k for k in m.kids if isinstance(k, str) and m.directory.keys.get(k, {}).get("use") == "enc"
            and inbox.keystore.has(k)]
    if not ours:
        raise EnvelopeRejected(2, "not-addressed-here", f"no recipient key of {inbox.administration} in the envelope")
    m.recipient_kid = ours[0]
    m.recipient_official = m.directory.keys[m.recipient_kid]["owner"]


def step_3_decrypt(inbox, m: Inbound) -> None:
    """3. Decrypt with the pinned algorithms: a tampered ciphertext, tag or header fails here."""
    try:
        m.inner = jose.decrypt(m.data, m.recipient_kid, inbox.keystore.private(m.recipient_kid))
    except jose.JoseFailure as failure:
        raise EnvelopeRejected(3, failure.code, failure.reason) from None


def step_4_jws_header(inbox, m: Inbound) -> None:
    """4. The inner JWS: Ed25519 only, our type, a kid, no embedded key (stops alg none, HMAC confusion)."""
    try:
        header, _ = jose.unverified_header_and_payload(m.inner)
        m.sender_kid = jose.check_jws_header(header, jose.ENVELOPE_JWS_TYP)
    except jose.JoseFailure as failure:
        raise EnvelopeRejected(4, failure.code, failure.reason) from None


def step_5_known_sender(inbox, m: Inbound) -> None:
    """5. The kid is a signing key in an imported partner directory (stops unknown senders, revoked officials).
    A kid we do not know, in an envelope claiming a registered partner as sender, first refreshes that partner's
    directory from its endpoint (an official designated since we imported it; at most once a minute per partner,
    verified against the pinned node key: ``service/exchange/refresh.py``)."""
    m.sender_key = m.directory.partner_keys.get(m.sender_kid)
    refreshed = None
    if m.sender_key is None and inbox.refresher is not None:
        refreshed = inbox.refresher.on_unknown_sender(claimed := _claimed_sender(m.inner))
        if refreshed is not None:
            m.directory = inbox.directory.directory_now()
            m.sender_key = m.directory.partner_keys.get(m.sender_kid)
    if m.sender_key is None or m.sender_key["use"] != "sig":
        reason = f"no partner signing key {m.sender_kid} in the directory"
        if refreshed is not None and refreshed["outcome"] in REFRESHED:
            reason += f"; {claimed}'s directory, refreshed from its endpoint, does not list it"
        elif refreshed is not None:  # the sender learns why its new key is not known yet
            reason += f"; refreshing {claimed}'s directory from its endpoint {refreshed['outcome']}: " \
                      f"{refreshed['detail']}"
        raise EnvelopeRejected(5, "unknown-sender", reason)


def _claimed_sender(inner: str) -> str | None:
    """The sender administration an envelope claims, unverified: only to pick which partner to refresh."""
    try:
        claimed = jose.unverified_header_and_payload(inner)[1].get("from")
    except jose.JoseFailure:
        return None
    return claimed.get("administration") if isinstance(claimed, dict) else None


def step_6_signature(inbox, m: Inbound) -> None:
    """6. The signature verifies (stops forgery)."""
    try:
        _, m.claims = jose.verify(m.inner, lambda kid: jose.public_key(m.sender_key["jwk"]), jose.ENVELOPE_JWS_TYP)
    except jose.JoseFailure as failure:
        raise EnvelopeRejected(6, failure.code, failure.reason) from None


def step_7_payload_shape(inbox, m: Inbound) -> None:
    """7. The signed content has the published shape."""
    try:
        m.envelope = EnvelopePayload.model_validate(m.claims)
    except ValidationError as error:
        first = error.errors()[0]
        claimed_id = m.claims.get("id")
        raise EnvelopeRejected(7, "malformed-payload", f"{'.'.join(map(str, first['loc']))}: {as_prose(first['msg'])}",
                               envelope_id=claimed_id if isinstance(claimed_id, str) else None) from None


def step_8_sender_is_signer(inbox, m: Inbound) -> None:
    """8. The signer is the official named as sender, still designated by the partner (stops one official
    signing as another); from here the sender is authentic and counts against its partner's rate limit."""
    sender = m.envelope.from_
    partner = m.directory.partners.get(sender.administration, {})
    if (m.sender_key["administration"], m.sender_key["official"]) != (sender.administration, sender.official) or \
            not partner.get("officials", {}).get(sender.official, {}).get("active"):
        raise EnvelopeRejected(8, "sender-mismatch", "the signing key does not belong to the named sender, or the "
                               "sender is not a designated official", m.eid)
    # 429, unsigned, nothing stored; the sender's courier retries after Retry-After.
    if inbox.limiter is not None:
        inbox.limiter.hit("partner", sender.administration)


def step_9_key_valid(inbox, m: Inbound) -> None:
    """9. The key was valid when the envelope was made and sent (stops retired or not-yet-valid keys)."""
    valid_from = datetime.fromisoformat(m.sender_key["valid_from"])
    valid_until = datetime.fromisoformat(m.sender_key["valid_until"])
    envelope = m.envelope
    if not (valid_from <= envelope.created_at < valid_until and valid_from <= envelope.sent_at < valid_until):
        raise EnvelopeRejected(9, "key-not-valid", f"key {m.sender_kid} is valid {valid_from.isoformat()} to "
                               f"{valid_until.isoformat()}", m.eid)


def step_10_signed_recipient(inbox, m: Inbound) -> None:
    """10. The signed recipient is this node and the official whose key opened it: an envelope re-encrypted by a
    third party still names that party inside the signature."""
    to = m.envelope.to
    if to.administration != inbox.administration or m.recipient_official not in to.officials:
        raise EnvelopeRejected(10, "misaddressed", f"the envelope is signed for {to.administration} "
                               f"({', '.join(to.officials)}), not for {inbox.administration} "
                               f"({m.recipient_official})", m.eid)


def step_11_fresh(inbox, m: Inbound) -> None:
    """11. Sent within the allowed clock skew (stops stale and future-dated messages)."""
    m.now = inbox.clock.now()
    if abs(m.now - m.envelope.sent_at) > inbox.max_skew:
        raise EnvelopeRejected(11, "stale-or-future", f"sent_at {m.envelope.sent_at.isoformat()} is more than "
                               f"{int(inbox.max_skew.total_seconds())} s from {m.now.isoformat()}", m.eid)


def step_12_unseen(inbox, m: Inbound) -> str | None:
    """12. Unseen id; an applied envelope sent again, resent or re-sealed, gets the same receipt (stops replay,
    id reuse)."""
    content = {k: v for k, v in m.claims.items() if k not in ("sent_at", "checkpoint")}
    m.content_sha256 = jose.sha256_hex(jose.canonical(content))
    seen = inbox.store.exchange.inbox_get(m.eid)
    return inbox._answer_seen(seen, m) if seen is not None else None


def step_13_history(inbox, m: Inbound) -> None:
    """13. The sender's history: its checkpoint verifies and extends what we witnessed before (stops a partner
    that rewrote, truncated or forked its log); then we cosign it. The agreement is checked on applying."""
    if inbox.witness is None:
        return
    try:
        inbox.witness.require_no_alarm(m.envelope.from_.administration)
        m.cosigned = inbox.witness.observe(m.envelope.from_.administration, m.envelope.checkpoint)
    except DomainError as error:
        raise EnvelopeRejected(13, error.code, str(error), m.eid) from None


# The order of docs/envelope-format.md §3.1; a step that returns a receipt ends the verification (step 12).
VERIFICATION: tuple[Callable[[Any, Inbound], str | None], ...] = (
    step_1_shape, step_2_addressed_here, step_3_decrypt, step_4_jws_header, step_5_known_sender, step_6_signature,
    step_7_payload_shape, step_8_sender_is_signer, step_9_key_valid, step_10_signed_recipient, step_11_fresh,
    step_12_unseen, step_13_history)


class Inbox:
    """Part of :class:`service.exchange.service.ExchangeService`: verify, de-duplicate, apply, answer."""

    def receive(self, raw: bytes) -> str:
        """Verify, de-duplicate, apply; return the signed receipt. Raises :class:`EnvelopeRejected`."""
        m = self._verified(raw)
        return m if isinstance(m, str) else self._apply_verified(m)

    def _verified(self, raw: bytes) -> Inbound | str:
        """Steps 1-13; the receipt already given when the envelope was applied before (step 12)."""
        m = Inbound(raw=raw, digest=jose.sha256_hex(raw))
        for step in VERIFICATION:
            answer = step(self, m)
            if answer is not None:
                return answer
        return m

    def _apply_verified(self, m: Inbound, receipt: str | None = None) -> str:
        # 13.-15. The agreement, the kind and the case's state; then apply and store atomically.
        envelope, eid = m.envelope, m.eid
        receipt = receipt or self._sign_receipt(eid, m.digest, envelope.from_.administration, m.now, m.cosigned)
        for attempt in range(APPLY_ATTEMPTS):
            try:
                # The case's existence looked up only on a retry (a conflict: perhaps it exists).
                self._apply(envelope, eid, m.now, receipt, m.digest, m.content_sha256, m.directory, look=attempt > 0)
            except (ConcurrentUpdate, EnvelopeRejected) as failure:
                # Another replica may have applied this very envelope since step 12.
                seen = self.store.exchange.inbox_get(eid)
                if seen is not None:
                    return self._answer_seen(seen, m)
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

    def _answer_seen(self, seen: dict, m: Inbound) -> str:
        """12. An applied envelope again — the very bytes (an HTTP layer resending after a lost response)
        or the same content re-sealed (the courier's retry) — gets the receipt it was given: a rejection
        would be stored by the sender as the envelope's fate (docs/envelope-format.md §3.3). A replay
        later than the allowed skew was refused at step 11. Other content under a seen id is refused."""
        if seen["envelope_sha256"] != m.digest and seen["content_sha256"] != m.content_sha256:
            raise EnvelopeRejected(12, "id-reused", f"envelope id {m.eid} was already used for other content", m.eid)
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
