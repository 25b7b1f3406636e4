"""The personal-data vault: a data key per data subject, kept apart from the events.

JP-NO Art. 9(2): personal data is kept only as long as its purpose needs and is
protected from unauthorised access, amendment and dissemination. Every part of
an event that ``domain.personal_data`` declares is sealed (AES-256-GCM, the
event's id, version and the part's path bound in as associated data) before the
event is stored, under the key of each data subject it concerns:

* a key belongs to one (subject, case, retention day): the retention sweep
  destroys exactly what expired, the DPO's erasure every key of a subject;
* keys are random, wrapped (RFC 3394 AES key wrap) by the node master key, which
  lives in the key store (``keys/``), never in the database: losing the event
  store alone reveals no personal data;
* erasure destroys the wrapped key and leaves a tombstone row (when, under which
  rule): the key is never recreated, the events, Merkle leaves and checkpoints
  stay as they were and still verify, and reading an erased part gives the
  marker "erased on DATE under RULE";
* free text and items that concern several subjects are sealed under a key
  derived (HKDF) from all their keys: erasing any one of them makes it unreadable.

The subject index maps keyed hashes (HMAC-SHA256 under a key derived from the
master key) of normalised identifiers to a pseudonymous subject id; no
identifier is stored in plaintext anywhere.
"""

from __future__ import annotations

import base64
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap
from eventsourcing.persistence import Mapper

from adapters.vault_sql import VaultTransactions
from adapters.vault_records import RestrictionsAndActivity, Retention, SubjectIndex, day_of
from domain.personal_data import TARGET, erased_marker, personal_parts, targets_of

log = logging.getLogger("cmaa.vault")

SEALED = "AES-256-GCM/cmaa-pd-1"
UNIDENTIFIED = "unidentified:"  # subject id prefix for personal data whose subject is not named


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text)


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and value.get("sealed") == SEALED


def _copied_along(state: dict, paths: list[str]) -> dict:
    """A copy of ``state`` in which every dict and list on the way to each path is a copy of
    its own: sealing replaces the values at ``paths`` in the copy and leaves the event (the
    aggregate's in-memory state) as it was. Cheaper than a deep copy of the whole state."""
    root = dict(state)
    copies = {id(state): root}
    for path in paths:
        original, copy_ = state, root
        for segment in path.split(".")[:-1]:
            key = int(segment) if isinstance(original, list) else segment
            child = original[key]
            mine = copies.get(id(child))
            if mine is None:
                mine = list(child) if isinstance(child, list) else dict(child)
                copies[id(child)] = mine
                copy_[key] = mine
            original, copy_ = child, mine
    return root


class Vault(VaultTransactions, SubjectIndex, Retention, RestrictionsAndActivity):
    """Seals and opens personal data; keeps the subject index, restrictions and activity log."""

    def __init__(self, recorder, master_key: bytes, *, encode: Callable[[Any], bytes],
                 decode: Callable[[bytes], Any], retention_days: Callable[[str | None], int]):
        from adapters.recorders import CmaaPostgresRecorder

        self.recorder = recorder
        self.postgres = isinstance(recorder, CmaaPostgresRecorder)
        self.prefix = recorder.table_prefix if self.postgres else ""
        self.mark = "%s" if self.postgres else "?"
        self._wrapping = master_key
        self._index_key = HKDF(hashes.SHA256(), 32, None, b"cmaa subject index").derive(master_key)
        self._encode, self._decode = encode, decode
        self.retention_days = retention_days
        self._local = threading.local()

    def _key_for(self, subject_id: str, case_id: str, retain_until: str, fresh: bool = False) -> tuple[str, bytes]:
        """The key of a (subject, case, retention day); ``fresh``: the case is being created, so it has
        none yet and one is made without looking (a statement fewer per case opened or received). A
        creation tried again after a conflict makes another: a case may hold several keys for one
        (subject, day), each part naming its own; erasure and the retention sweep destroy them all."""
        make = self._new_key if fresh else self._look_up_key
        return self._remembered(("key", subject_id, case_id, retain_until),
                                lambda: make(subject_id, case_id, retain_until))

    def _look_up_key(self, subject_id: str, case_id: str, retain_until: str) -> tuple[str, bytes]:
        rows = self._run("SELECT key_id, wrapped FROM {p}cmaa_pd_keys WHERE subject_id = ? AND case_id = ? "
                         "AND retain_until = ?", (subject_id, case_id, retain_until), ("key_id", "wrapped"))
        live = sorted((r["key_id"], r["wrapped"]) for r in rows if r["wrapped"] is not None)
        if live:
            return live[0][0], aes_key_unwrap(self._wrapping, _unb64(live[0][1]))
        return self._new_key(subject_id, case_id, retain_until)

    def _new_key(self, subject_id: str, case_id: str, retain_until: str) -> tuple[str, bytes]:
        key, key_id = AESGCM.generate_key(bit_length=256), uuid.uuid4().hex
        self._run("INSERT INTO {p}cmaa_pd_keys (key_id, subject_id, case_id, retain_until, wrapped, created_at) "
                  "VALUES (?, ?, ?, ?, ?, ?)",
                  (key_id, subject_id, case_id, retain_until, _b64(aes_key_wrap(self._wrapping, key)),
                   int(time.time() * 1000)))
        return key_id, key

    @staticmethod
    def _combined(keys: list[tuple[str, bytes]]) -> bytes:
        if len(keys) == 1:
            return keys[0][1]
        info = b"cmaa-pd combined|" + ",".join(k for k, _ in keys).encode()
        return HKDF(hashes.SHA256(), 32, None, info).derive(b"".join(v for _, v in keys))

    def _open_keys(self, key_ids: Iterable[str]) -> dict[str, bytes | dict]:
        """key id -> key bytes, or the erasure tombstone ``{"on", "rule"}``."""
        found: dict[str, bytes | dict] = {}
        ids = sorted(set(key_ids))
        if not ids:
            return found
        for row in self.keys(key_ids=ids):
            if row["wrapped"] is None:
                found[row["key_id"]] = {"on": day_of(int(row["erased_at"])), "rule": row["erased_rule"]}
            else:
                found[row["key_id"]] = aes_key_unwrap(self._wrapping, _unb64(row["wrapped"]))
        return found

    def _seal(self, keys: list[tuple[str, bytes]], plain: bytes, aad: str) -> dict:
        keys = sorted(keys)
        nonce = secrets.token_bytes(12)
        sealed = AESGCM(self._combined(keys)).encrypt(nonce, plain, aad.encode())
        return {"sealed": SEALED, "keys": [k for k, _ in keys], "nonce": _b64(nonce), "ciphertext": _b64(sealed)}

    def _unseal(self, sealed: dict, opened: dict[str, bytes | dict], aad: str) -> tuple[bytes | None, dict | None]:
        """(plaintext, None) or (None, tombstone) when any of its keys is destroyed."""
        keys = []
        for key_id in sealed["keys"]:
            key = opened.get(key_id)
            if key is None:
                return None, {"on": "an unknown date", "rule": "a key missing from this node's vault"}
            if isinstance(key, dict):
                return None, key
            keys.append((key_id, key))
        try:
            return AESGCM(self._combined(keys)).decrypt(_unb64(sealed["nonce"]), _unb64(sealed["ciphertext"]),
                                                        aad.encode()), None
        except InvalidTag:
            return None, {"on": "an unknown date", "rule": "a seal that does not open (altered or moved)"}

    # -- events (called by the store's mapper) ----------------------------------------------
    def seal_event(self, event_name: str, originator_id: uuid.UUID | str, scope: int | str, state: dict, *,
                   at: datetime | None = None, agreement: str | None = None, fresh: bool | None = None) -> dict:
        """A copy of ``state`` with every declared personal part sealed; ``scope`` (the
        event's version, or ``outbox:<envelope id>``) is bound in with the case id and path.
        ``fresh``: the case is being created and has no keys yet (default: the event is its first)."""
        parts = list(personal_parts(event_name, state))
        if not parts or all(is_sealed(p.container[p.key]) for p in parts):
            return state
        state = _copied_along(state, [p.path for p in parts])
        fresh = scope == 1 if fresh is None else fresh
        with self._transaction(write=True, lazy=True):
            return self._seal_parts(event_name, str(originator_id), scope, state, at, agreement, fresh)

    def _seal_parts(self, event_name: str, case_id: str, scope, state: dict, at, agreement, fresh: bool) -> dict:
        parts = list(personal_parts(event_name, state))
        at = at or state.get("at") or state.get("timestamp") or datetime.now(timezone.utc)
        default_days = self.retention_days(agreement or state.get("agreement"))
        if state.get("subject_id"):  # a rectification names the subject it corrects
            subjects = [state["subject_id"]]
            for target in targets_of(event_name, state):
                self.index(target, state["subject_id"])
        else:
            subject_of = {id(t): self.subject_for(t) for t in targets_of(event_name, state)}
            subjects = list(subject_of.values()) or self.case_subjects(case_id) or [UNIDENTIFIED + case_id]
        known: dict[tuple[str, str], tuple[str, bytes]] = {}  # (subject, retain until) -> key: one look-up each
        for part in parts:
            value = part.container[part.key]
            if is_sealed(value):
                continue
            retain = (at + timedelta(days=part.retention_days or default_days)).date().isoformat()
            own = part.kind == TARGET and isinstance(value, dict) and not state.get("subject_id")
            concerned = [subject_of.get(id(value)) or self.subject_for(value)] if own else subjects
            for subject in sorted(set(concerned)):
                if (subject, retain) not in known:
                    known[(subject, retain)] = self._key_for(subject, case_id, retain, fresh)
            keys = [known[(s, retain)] for s in sorted(set(concerned))]
            aad = f"{case_id}|{scope}|{part.path}"
            part.container[part.key] = self._seal(keys, self._encode(value), aad)
        return state

    def unseal_event(self, event_name: str, originator_id: uuid.UUID | str, scope: int | str, state: dict,
                     erased: list[str] | None = None) -> dict:
        """Open the sealed parts of ``state`` in place; an erased part reads as its marker
        (and the marker is appended to ``erased`` when given)."""
        parts = [p for p in personal_parts(event_name, state) if is_sealed(p.container[p.key])]
        if not parts:
            return state
        opened = self._open_keys(k for p in parts for k in p.container[p.key]["keys"])  # one statement
        case_id = str(originator_id)
        for part in parts:
            sealed = part.container[part.key]
            plain, tombstone = self._unseal(sealed, opened, f"{case_id}|{scope}|{part.path}")
            if plain is not None:
                part.container[part.key] = self._decode(plain)
            else:
                marker = erased_marker(tombstone["on"], tombstone["rule"])
                part.container[part.key] = {"erased": marker} if part.kind == TARGET else marker
                if erased is not None:
                    erased.append(marker)
        return state

    @staticmethod
    def sealed_parts(event_name: str, state: dict) -> list[tuple[str, str, list[str]]]:
        """(path, kind, key ids) of every sealed part of a stored event's state, without opening it."""
        return [(p.path, p.kind, list(p.container[p.key]["keys"])) for p in personal_parts(event_name, state)
                if is_sealed(p.container[p.key])]


_reads = threading.local()


@contextmanager
def reading_sealed():
    """Within this block (this thread), events are read with their personal parts left
    sealed: for a command that needs none of them (recording a delivery) — no vault
    round trip, no key unwrapped, and a read that is not a read of personal data."""
    before = getattr(_reads, "sealed", False)
    _reads.sealed = True
    try:
        yield
    finally:
        _reads.sealed = before


_ahead = threading.local()  # SealingMapper.mapped_ahead: the events of this thread's commit, mapped


class SealingMapper(Mapper):
    """The library's mapper, sealing declared personal data before an event is stored.

    Until a vault is attached (``EventStore.attach_vault``) it is the plain mapper:
    tools that only verify the chain read sealed parts as they are stored.
    """

    vault: Vault | None = None

    @contextmanager
    def mapped_ahead(self, domain_events):
        """Seal the personal data of several events in one vault transaction, committed before the
        events' own begins (``EventStore._record``): a batch of inbound envelopes takes one vault
        transaction, not one per event. Not in the events' transaction: on SQLite that would hold the
        write lock through all the sealing (docs/performance.md, tried and dropped)."""
        with self.vault._transaction(write=True, lazy=True):
            ahead = {id(event): self.to_stored_event(event) for event in domain_events}
        _ahead.stored = ahead
        try:
            yield
        finally:
            _ahead.stored = None

    def to_stored_event(self, domain_event):
        ahead = getattr(_ahead, "stored", None)
        if ahead is not None and id(domain_event) in ahead:
            return ahead[id(domain_event)]
        if self.vault is None:
            return super().to_stored_event(domain_event)
        name = type(domain_event).__name__
        state = dict(vars(domain_event))
        sealed = self.vault.seal_event(name, state["originator_id"], state["originator_version"], state)
        if sealed is state:
            return super().to_stored_event(domain_event)
        proxy = object.__new__(type(domain_event))
        object.__setattr__(proxy, "__dict__", sealed)
        return super().to_stored_event(proxy)

    def to_domain_event(self, stored_event):
        event = super().to_domain_event(stored_event)
        if self.vault is not None and not getattr(_reads, "sealed", False):
            state = vars(event)
            self.vault.unseal_event(type(event).__name__, event.originator_id, event.originator_version, state)
        return event
