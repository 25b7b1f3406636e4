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
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap, aes_key_wrap
from eventsourcing.persistence import Mapper

from adapters.store import take_write_lock
from domain.personal_data import TARGET, erased_marker, identifiers_of, personal_parts, targets_of

log = logging.getLogger("cmaa.vault")

SEALED = "AES-256-GCM/cmaa-pd-1"
UNIDENTIFIED = "unidentified:"  # subject id prefix for personal data whose subject is not named


def tables(prefix: str) -> list[str]:
    return [
        f"CREATE TABLE IF NOT EXISTS {prefix}cmaa_pd_subjects (pseudonym TEXT PRIMARY KEY, subject_id TEXT NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS cmaa_pd_subjects_subject ON {prefix}cmaa_pd_subjects (subject_id)",
        f"CREATE TABLE IF NOT EXISTS {prefix}cmaa_pd_keys (key_id TEXT PRIMARY KEY, subject_id TEXT NOT NULL, "
        "case_id TEXT NOT NULL, retain_until TEXT NOT NULL, wrapped TEXT, created_at BIGINT NOT NULL, "
        "erased_at BIGINT, erased_rule TEXT)",
        # The key of (subject, case, retention day): every key of a day shares retain_until, so the
        # lookup needs all three columns (an index on the day alone made sealing O(keys)).
        f"CREATE INDEX IF NOT EXISTS cmaa_pd_keys_lookup ON {prefix}cmaa_pd_keys (subject_id, case_id, retain_until)",
        f"CREATE INDEX IF NOT EXISTS cmaa_pd_keys_case ON {prefix}cmaa_pd_keys (case_id)",
        # Live keys by retention day, for the sweep. Partial: a lookup of one key (which does not
        # say erased_at IS NULL) cannot be planned on it; PostgreSQL did, with stale statistics.
        f"CREATE INDEX IF NOT EXISTS cmaa_pd_keys_live ON {prefix}cmaa_pd_keys (retain_until) WHERE erased_at IS NULL",
        f"CREATE TABLE IF NOT EXISTS {prefix}cmaa_pd_restrictions (subject_id TEXT PRIMARY KEY, "
        "since BIGINT NOT NULL, by_official TEXT NOT NULL, reason TEXT NOT NULL)",
        f"CREATE TABLE IF NOT EXISTS {prefix}cmaa_pd_activity (activity_id TEXT PRIMARY KEY, at BIGINT NOT NULL, "
        "official TEXT NOT NULL, role TEXT NOT NULL, action TEXT NOT NULL, purpose TEXT NOT NULL, "
        "case_id TEXT, subject_id TEXT, request_id TEXT)",
        f"CREATE INDEX IF NOT EXISTS cmaa_pd_activity_subject ON {prefix}cmaa_pd_activity (subject_id, at)",
        f"CREATE INDEX IF NOT EXISTS cmaa_pd_activity_official ON {prefix}cmaa_pd_activity (official, at)",
    ]


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


def _day(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, timezone.utc).date().isoformat()


class Vault:
    """Seals and opens personal data; keeps the subject index, restrictions and activity log."""

    def __init__(self, recorder, master_key: bytes, *, encode: Callable[[Any], bytes],
                 decode: Callable[[bytes], Any], retention_days: Callable[[str | None], int]):
        from adapters.exchange_tables import CmaaPostgresRecorder

        self.recorder = recorder
        self.postgres = isinstance(recorder, CmaaPostgresRecorder)
        self.prefix = recorder.table_prefix if self.postgres else ""
        self.mark = "%s" if self.postgres else "?"
        self._wrapping = master_key
        self._index_key = HKDF(hashes.SHA256(), 32, None, b"cmaa subject index").derive(master_key)
        self._encode, self._decode = encode, decode
        self.retention_days = retention_days
        self._local = threading.local()

    # -- SQL ----------------------------------------------------------------------------
    def atomic(self, write: bool = False):
        """Several vault calls in one transaction (``write``: taking SQLite's write lock first)."""
        return self._transaction(write=write)

    @contextmanager
    def _transaction(self, write: bool = False):
        """One transaction for everything an event's sealing or opening needs (nested: joined)."""
        if getattr(self._local, "cursor", None) is not None:
            yield
            return
        with self.recorder.datastore.transaction(commit=True) as cursor:
            if not self.postgres:
                cursor.execute("PRAGMA secure_delete = ON")  # a destroyed key's bytes are zeroed, not left in free pages
                if write:
                    take_write_lock(cursor)
            self._local.cursor = cursor
            try:
                yield
            finally:
                self._local.cursor = None

    def _run(self, sql: str, params: tuple = (), columns: tuple[str, ...] = ()) -> list[dict]:
        sql = sql.replace("{p}", self.prefix).replace("?", self.mark)
        with self._transaction():
            cursor = self._local.cursor
            cursor.execute(sql, params)
            rows = cursor.fetchall() if columns else []
        return [dict(row) if self.postgres else dict(zip(columns, row)) for row in rows]

    def _marks(self, n: int) -> str:
        return ", ".join(["?"] * n)

    # -- the subject index ------------------------------------------------------------
    def pseudonyms(self, subject: dict[str, Any]) -> list[str]:
        return [hmac.new(self._index_key, ident.encode(), hashlib.sha256).hexdigest()
                for ident in identifiers_of(subject)]

    def _indexed(self, names: list[str]) -> dict[str, str]:
        """pseudonym -> subject id, for those of ``names`` already in the index."""
        if not names:
            return {}
        rows = self._run(f"SELECT pseudonym, subject_id FROM {{p}}cmaa_pd_subjects WHERE pseudonym IN "
                         f"({self._marks(len(names))})", tuple(names), ("pseudonym", "subject_id"))
        return {r["pseudonym"]: r["subject_id"] for r in rows}

    def find_subjects(self, subject: dict[str, Any]) -> list[str]:
        """The subject ids any of ``subject``'s identifiers point to (usually one)."""
        return sorted(set(self._indexed(self.pseudonyms(subject)).values()))

    def subject_for(self, subject: dict[str, Any]) -> str:
        """The subject id of a target, recorded under every identifier it carries."""
        names = self.pseudonyms(subject)
        known = self._indexed(names)
        subject_id = min(known.values()) if known else uuid.uuid4().hex
        self._insert_pseudonyms([n for n in names if n not in known], subject_id)
        if not known and names:
            # Another writer may have indexed one of these identifiers first: its subject stands.
            return self.find_subjects(subject)[0]
        return subject_id

    def index(self, subject: dict[str, Any], subject_id: str) -> None:
        """Record more identifiers of a known subject (a rectified name, a new document)."""
        names = self.pseudonyms(subject)
        known = self._indexed(names)
        self._insert_pseudonyms([n for n in names if n not in known], subject_id)

    def _insert_pseudonyms(self, names: list[str], subject_id: str) -> None:
        for name in names:
            self._run("INSERT INTO {p}cmaa_pd_subjects (pseudonym, subject_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                      (name, subject_id))

    def case_subjects(self, case_id: str) -> list[str]:
        rows = self._run("SELECT DISTINCT subject_id FROM {p}cmaa_pd_keys WHERE case_id = ?", (case_id,),
                         ("subject_id",))
        return sorted(r["subject_id"] for r in rows)

    def subject_cases(self, subject_id: str) -> list[str]:
        rows = self._run("SELECT DISTINCT case_id FROM {p}cmaa_pd_keys WHERE subject_id = ?", (subject_id,),
                         ("case_id",))
        return sorted(r["case_id"] for r in rows)

    # -- keys -------------------------------------------------------------------------------
    KEY_COLUMNS = ("key_id", "subject_id", "case_id", "retain_until", "wrapped", "created_at", "erased_at",
                   "erased_rule")

    def keys(self, *, subject_id: str | None = None, case_id: str | None = None,
             key_ids: Iterable[str] = ()) -> list[dict]:
        cols = ", ".join(self.KEY_COLUMNS)
        if key_ids:
            ids = tuple(key_ids)
            where, params = f"key_id IN ({self._marks(len(ids))})", ids
        elif subject_id is not None:
            where, params = "subject_id = ?", (subject_id,)
        else:
            where, params = "case_id = ?", (case_id,)
        return self._run(f"SELECT {cols} FROM {{p}}cmaa_pd_keys WHERE {where}", params, self.KEY_COLUMNS)

    def _key_for(self, subject_id: str, case_id: str, retain_until: str) -> tuple[str, bytes]:
        rows = self._run("SELECT key_id, wrapped FROM {p}cmaa_pd_keys WHERE subject_id = ? AND case_id = ? "
                         "AND retain_until = ?", (subject_id, case_id, retain_until), ("key_id", "wrapped"))
        live = sorted((r["key_id"], r["wrapped"]) for r in rows if r["wrapped"] is not None)
        if live:
            return live[0][0], aes_key_unwrap(self._wrapping, _unb64(live[0][1]))
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
                found[row["key_id"]] = {"on": _day(int(row["erased_at"])), "rule": row["erased_rule"]}
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
                   at: datetime | None = None, agreement: str | None = None) -> dict:
        """A copy of ``state`` with every declared personal part sealed; ``scope`` (the
        event's version, or ``outbox:<envelope id>``) is bound in with the case id and path."""
        parts = list(personal_parts(event_name, state))
        if not parts or all(is_sealed(p.container[p.key]) for p in parts):
            return state
        state = _copied_along(state, [p.path for p in parts])
        with self._transaction(write=True):
            return self._seal_parts(event_name, str(originator_id), scope, state, at, agreement)

    def _seal_parts(self, event_name: str, case_id: str, scope, state: dict, at, agreement) -> dict:
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
                    known[(subject, retain)] = self._key_for(subject, case_id, retain)
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
        with self._transaction():
            opened = self._open_keys(k for p in parts for k in p.container[p.key]["keys"])
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

    # -- erasure --------------------------------------------------------------------------------
    def expired(self, today: date) -> list[dict]:
        """Live keys whose retention day has passed."""
        cols = ", ".join(self.KEY_COLUMNS)
        rows = self._run(f"SELECT {cols} FROM {{p}}cmaa_pd_keys WHERE erased_at IS NULL AND retain_until < ?",
                         (today.isoformat(),), self.KEY_COLUMNS)
        return sorted(rows, key=lambda r: (r["case_id"], r["key_id"]))

    def destroy(self, key_ids: list[str], rule: str, at: datetime) -> int:
        """Destroy the keys (a tombstone stays); returns how many were live."""
        if not key_ids:
            return 0
        ms = int(at.timestamp() * 1000)
        live = [r["key_id"] for r in self.keys(key_ids=key_ids) if r["erased_at"] is None]
        if live:
            self._run(f"UPDATE {{p}}cmaa_pd_keys SET wrapped = NULL, erased_at = ?, erased_rule = ? "
                      f"WHERE key_id IN ({self._marks(len(live))}) AND erased_at IS NULL", (ms, rule, *live))
            if not self.postgres:
                self._truncate_wal()
        return len(live)

    def _truncate_wal(self, timeout: float = 10.0) -> None:
        """Copy the WAL into the database file and empty it, so the destroyed keys' old bytes
        are gone from the WAL too. A TRUNCATE checkpoint waits for readers of older snapshots;
        the store's connections leave waiting to us (``adapters/store.py``), so it is retried
        until it reports not busy (as SQLite's busy handler did, up to the same timeout)."""
        deadline = time.monotonic() + timeout
        while self._run("PRAGMA wal_checkpoint(TRUNCATE)", (), ("busy", "log", "done"))[0]["busy"]:
            if time.monotonic() >= deadline:
                log.warning("erasure: a reader held the WAL for %.0f s; the next checkpoint empties it", timeout)
                return
            time.sleep(0.001)

    def subjects_concerned(self, case_id: str, targets: Iterable[dict] = ()) -> list[str]:
        """The subjects a case's personal data concerns, with those of targets not yet stored."""
        found = set(self.case_subjects(case_id))
        for target in targets:
            found.update(self.find_subjects(target))
        return sorted(found)

    # -- restriction ----------------------------------------------------------------------------
    def restrict(self, subject_id: str, by: str, reason: str, at: datetime) -> None:
        self._run("INSERT INTO {p}cmaa_pd_restrictions (subject_id, since, by_official, reason) VALUES (?, ?, ?, ?) "
                  "ON CONFLICT DO NOTHING", (subject_id, int(at.timestamp() * 1000), by, reason))

    def lift(self, subject_id: str) -> bool:
        was = self.restrictions([subject_id])
        self._run("DELETE FROM {p}cmaa_pd_restrictions WHERE subject_id = ?", (subject_id,))
        return bool(was)

    def restricted_since(self, case_id: str, targets: Iterable[dict] = ()) -> str | None:
        """The earliest day a subject of the case (or of ``targets`` not yet stored) was restricted."""
        with self._transaction():  # its three lookups in one transaction
            restricted = self.restrictions(self.subjects_concerned(case_id, targets))
        return min(r["since"] for r in restricted.values()) if restricted else None

    def restrictions(self, subject_ids: Iterable[str]) -> dict[str, dict]:
        ids = tuple(sorted(set(subject_ids)))
        if not ids:
            return {}
        rows = self._run(f"SELECT subject_id, since, by_official, reason FROM {{p}}cmaa_pd_restrictions "
                         f"WHERE subject_id IN ({self._marks(len(ids))})", ids,
                         ("subject_id", "since", "by_official", "reason"))
        return {r["subject_id"]: {"since": _day(int(r["since"])), "by": r["by_official"], "reason": r["reason"]}
                for r in rows}

    # -- the activity log ---------------------------------------------------------------------
    ACTIVITY_COLUMNS = ("activity_id", "at", "official", "role", "action", "purpose", "case_id", "subject_id",
                        "request_id")

    def log_activity(self, *, official: str, role: str, action: str, purpose: str, at: datetime,
                     case_id: str | None = None, subject_ids: Iterable[str] = (), request_id: str | None = None) -> None:
        ms = int(at.timestamp() * 1000)
        with self._transaction(write=True):
            for subject_id in sorted(set(subject_ids)) or [None]:
                    self._run(f"INSERT INTO {{p}}cmaa_pd_activity ({', '.join(self.ACTIVITY_COLUMNS)}) "
                          f"VALUES ({self._marks(len(self.ACTIVITY_COLUMNS))})",
                          (uuid.uuid4().hex, ms, official, role, action, purpose[:500], case_id, subject_id,
                           request_id))

    def activity(self, *, subject_id: str | None = None, official: str | None = None, limit: int = 1000) -> list[dict]:
        where, params = [], []
        if subject_id:
            where.append("subject_id = ?"), params.append(subject_id)
        if official:
            where.append("official = ?"), params.append(official)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        rows = self._run(f"SELECT {', '.join(self.ACTIVITY_COLUMNS)} FROM {{p}}cmaa_pd_activity {clause}"
                         f"ORDER BY at DESC, activity_id LIMIT {int(limit)}", tuple(params), self.ACTIVITY_COLUMNS)
        for row in rows:
            row["at"] = datetime.fromtimestamp(int(row["at"]) / 1000, timezone.utc).isoformat()
        return rows


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


class SealingMapper(Mapper):
    """The library's mapper, sealing declared personal data before an event is stored.

    Until a vault is attached (``EventStore.attach_vault``) it is the plain mapper:
    tools that only verify the chain read sealed parts as they are stored.
    """

    vault: Vault | None = None

    def to_stored_event(self, domain_event):
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
