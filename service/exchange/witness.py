"""Partners witness each other's logs (issue 5): every envelope and receipt carries the
sender's latest signed checkpoint; the receiver verifies it against the sender's pinned
node key and against the last checkpoint it holds from that sender — a consistency
proof fetched from the sender when the tree grew — keeps it, and cosigns it.

A checkpoint that does not extend what was witnessed before (a rewritten, truncated
or forked history) raises an alarm: a ``PartnerHistoryAlarmRaised`` event, and every
envelope from that partner is refused until an operator clears it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from adapters import jose
from adapters.audit_log import AuditLog, verify_checkpoint
from adapters.cosignature import cosign, verify_cosignature
from adapters.merkle import ProofError, verify_consistency
from domain.errors import DomainError

log = logging.getLogger("cmaa.witness")


class HistoryAlarm(DomainError):
    code = "partner-history-alarm"
    title = "Partner history alarm"


class BadCheckpoint(DomainError):
    code = "bad-checkpoint"
    title = "Checkpoint does not verify"


def origin_of(administration: str) -> str:
    return f"cmaa-exchange/{administration}"


@dataclass
class Witness:
    log: AuditLog
    directory: Any  # DirectoryService
    keystore: Any
    courier: Any = None  # its HTTP client (TLS configured) fetches consistency proofs from partners
    clock: Any = None  # the time in each cosignature (C2SP tlog-cosignature); the system's if None
    _locks: dict = field(default_factory=dict, repr=False)  # one per partner: witnessing is serialised
    _locks_guard: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # The last checkpoint witnessed from each partner and our cosignature of it: the same note
    # presented again (every envelope and receipt until the partner's next checkpoint) was
    # verified and found consistent already, so it is answered from here.
    _witnessed: dict = field(default_factory=dict, repr=False)
    _kept: dict = field(default_factory=dict, repr=False)  # the last cosignature kept from each partner
    # The note whose consistency proof is being fetched from each partner right now (rules 6 and 7): the same
    # note presented meanwhile does not queue behind that round trip (rule 2a, docs/audit-format.md §3a).
    _fetching: dict = field(default_factory=dict, repr=False)

    @property
    def own_origin(self) -> str:
        return origin_of(self.directory.administration)

    def latest_note(self) -> str | None:
        checkpoint = self.log.latest_checkpoint()
        return checkpoint.note if checkpoint else None

    def require_no_alarm(self, partner: str) -> None:
        record = self.directory.directory().partners.get(partner, {})
        if record.get("alarm"):
            raise HistoryAlarm(f"{partner}'s history failed verification ({record['alarm']['reason']}); envelopes "
                               "from it are refused until an operator clears the alarm")

    def observe(self, partner: str, note: str | None) -> str | None:
        """Witness a partner's checkpoint; return our cosignature of it, or ``None`` if there is
        nothing to cosign yet. Raises :class:`HistoryAlarm` or :class:`BadCheckpoint`."""
        if not note:
            return None
        seen = self._witnessed.get(partner)
        if seen is not None and seen[0] == note:
            return seen[1]
        if self._fetching.get(partner) == note:
            # Rule 2a: the same note is being witnessed now; it settles it (held and cosigned, or an alarm).
            # Like a proof that cannot be fetched (rule 6), this one is accepted, not held nor cosigned.
            return None
        record = self.directory.directory().partner(partner)
        key = jose.public_key(record["directory"]["node_key"]).public_key
        try:
            size, root = verify_checkpoint(note, origin_of(partner), key)
        except ValueError as error:
            raise BadCheckpoint(f"{partner}'s checkpoint does not verify: {error}") from None
        with self._lock(partner):  # receipts of concurrent deliveries are witnessed one at a time
            try:
                held = self.log.held_from(partner)
                if held is not None:
                    held_size, held_root, held_note = held
                    if size == held_size and root != held_root:
                        self._alarm(partner, f"two different trees of {size} leaves: forked", held_note, note)
                    if size < held_size:
                        # An older checkpoint than one witnessed already: receipts of concurrent deliveries
                        # come back out of order. It is only an older view of the same history if the
                        # partner still proves its log extends from it to the tree we hold; a partner that
                        # truncated or rolled back its log cannot.
                        if not self._consistent(partner, record, size, root, held_size, held_root, held_note, note,
                                                shrunk=True):
                            return None
                        return self._cosign(note)
                    if size > held_size and not self._consistent(partner, record, held_size, held_root, size, root,
                                                                held_note, note):
                        return None  # could not fetch a proof now: witness it at the next exchange
                self.log.hold(partner, size, root, note)
                cosignature = self._cosign(note)
                self._witnessed[partner] = (note, cosignature)
            finally:
                if self._fetching.get(partner) == note:
                    del self._fetching[partner]
        return cosignature

    def _cosign(self, note: str) -> str:
        """Our C2SP ``cosignature/v1`` line on a partner's checkpoint (https://c2sp.org/tlog-cosignature)."""
        now = self.clock.now().timestamp() if self.clock is not None else time.time()
        return cosign(note, self.own_origin, self.keystore.node_signing_key().private_key, int(now))

    def _lock(self, partner: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(partner, threading.Lock())

    def _consistent(self, partner, record, old_size, old_root, size, root, held_note, note,
                    shrunk: bool = False) -> bool:
        endpoint = (record.get("endpoint") or "").rstrip("/")
        self._fetching[partner] = note
        try:
            response = self.courier.http.get(f"{endpoint}/audit/proofs/consistency",
                                             params={"old_size": old_size, "new_size": size}, timeout=10)
            if shrunk and response.status_code in (404, 422):
                self._alarm(partner, f"a checkpoint of {old_size} leaves after {size} were witnessed, and it "
                            f"no longer proves a tree of {size}: truncated or rolled back", held_note, note)
            response.raise_for_status()
            proof = [bytes.fromhex(p) for p in response.json()["proof"]]
        except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError) as error:
            log.info("no consistency proof from %s yet: %s", partner, error)
            return False
        try:
            verify_consistency(old_size, size, old_root, root, proof)
        except ProofError:
            if shrunk:
                self._alarm(partner, f"its tree of {old_size} leaves is not a prefix of the {size} witnessed: "
                            "rewritten", held_note, note)
            self._alarm(partner, f"its tree of {size} leaves does not extend the {old_size} witnessed: forked",
                        held_note, note)
        return True

    def _alarm(self, partner: str, reason: str, held: str, presented: str) -> None:
        self._witnessed.pop(partner, None)
        self.directory._change("raise_history_alarm", by="witness", administration=partner, reason=reason,
                               held=held, presented=presented)
        log.error("history alarm for %s: %s", partner, reason)
        raise HistoryAlarm(f"{partner}: {reason}")

    def clear(self, partner: str, resolution: str, by: str) -> None:
        """An operator clears the alarm after looking into it; the partner's next checkpoint
        starts a new witnessed history (the old one stays in the event log)."""
        self.directory._change("clear_history_alarm", by=by, administration=partner, resolution=resolution)
        self.log.forget(partner)
        self._witnessed.pop(partner, None)

    def keep_cosignature(self, partner: str, note: str | None) -> None:
        """Keep a partner's cosignature of our checkpoint if it verifies."""
        if not note or self._kept.get(partner) == note:
            return
        try:
            key = jose.public_key(self.directory.directory().partner(partner)["directory"]["node_key"]).public_key
            size, _ = verify_checkpoint(note, self.own_origin, self.keystore.node_signing_key().public_key)
            verify_cosignature(note, origin_of(partner), key, self.own_origin)
        except (ValueError, KeyError):
            return
        self.log.keep_cosignature(size, partner, note)
        self._kept[partner] = note
