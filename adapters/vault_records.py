"""The vault's records beside its keys: the pseudonymous subject index, key retention and erasure, restrictions
of processing and the activity log of personal-data reads. Parts of :class:`adapters.vault.Vault`, which holds the
keys, the transactions and the sealing these use."""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
import uuid
from collections.abc import Iterable
from datetime import date, datetime, timezone
from typing import Any

from domain.personal_data import identifiers_of

log = logging.getLogger("cmaa.vault")


def day_of(ms: int) -> str:
    """The UTC day of a time in milliseconds, as the vault records retention and restriction days."""
    return datetime.fromtimestamp(ms / 1000, timezone.utc).date().isoformat()


class SubjectIndex:
    """Pseudonyms (keyed hashes of normalised identifiers) → subject ids, and which cases hold which subject."""

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
        if not names:  # no identifier: a subject of its own each time
            return self._subject_for(subject, names)
        return self._remembered(("subject", *sorted(names)), lambda: self._subject_for(subject, names))

    def _subject_for(self, subject: dict[str, Any], names: list[str]) -> str:
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



class Retention:
    """The keys per (subject, case, retention day), and their destruction: crypto-shredding."""

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


class RestrictionsAndActivity:
    """Restrictions of processing (JP-NO Art. 9(2)) and the log of who read whose personal data, for what."""

    # -- restriction ----------------------------------------------------------------------------
    def restrict(self, subject_id: str, by: str, reason: str, at: datetime) -> None:
        self._run("INSERT INTO {p}cmaa_pd_restrictions (subject_id, since, by_official, reason) VALUES (?, ?, ?, ?) "
                  "ON CONFLICT DO NOTHING", (subject_id, int(at.timestamp() * 1000), by, reason))

    def lift(self, subject_id: str) -> bool:
        was = self.restrictions([subject_id])
        self._run("DELETE FROM {p}cmaa_pd_restrictions WHERE subject_id = ?", (subject_id,))
        return bool(was)

    def restricted_since(self, case_id: str, targets: Iterable[dict] = ()) -> str | None:
        """The earliest day a subject of the case (by its keys) or of ``targets`` not yet stored (by their
        identifiers' pseudonyms) was restricted, asked in one statement (it was three, in every command
        that sends personal data)."""
        names = sorted({name for target in targets for name in self.pseudonyms(target)})
        by_name = f" OR subject_id IN (SELECT subject_id FROM {{p}}cmaa_pd_subjects WHERE pseudonym IN " \
                  f"({self._marks(len(names))}))" if names else ""
        rows = self._run("SELECT since FROM {p}cmaa_pd_restrictions WHERE subject_id IN "
                         "(SELECT subject_id FROM {p}cmaa_pd_keys WHERE case_id = ?)" + by_name,
                         (case_id, *names), ("since",))
        return day_of(min(int(r["since"]) for r in rows)) if rows else None

    def restrictions(self, subject_ids: Iterable[str]) -> dict[str, dict]:
        ids = tuple(sorted(set(subject_ids)))
        if not ids:
            return {}
        rows = self._run(f"SELECT subject_id, since, by_official, reason FROM {{p}}cmaa_pd_restrictions "
                         f"WHERE subject_id IN ({self._marks(len(ids))})", ids,
                         ("subject_id", "since", "by_official", "reason"))
        return {r["subject_id"]: {"since": day_of(int(r["since"])), "by": r["by_official"], "reason": r["reason"]}
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

