"""Application services for the directory, credentials and authentication."""

from __future__ import annotations

import hmac
import threading
from contextlib import contextmanager
from contextvars import ContextVar
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import date, timedelta

from adapters import tokens
from adapters.store import EventStore
from domain.agreements import Agreements
from domain.credentials import Credential, credential_id
from domain.directory import Directory, directory_id, require_administration_code
from domain.errors import NotFound, NotPermitted, fields_as_sent
from service.principal import Principal

# Compared against when a token id is unknown, so that the answer takes the same
# time whether or not the credential exists.
_DUMMY_DIGEST = tokens.digest("no-such-credential")


_memo: ContextVar[dict[int, Directory | object] | None] = ContextVar("cmaa_directory_memo", default=None)
_CHANGING = object()


@contextmanager
def one_directory_read():
    """Within this block — one API request (``OneDirectoryPerRequest``), one delivery
    (the courier) — the directory is read from the store once, at its first use: the
    authentication, the treaty checks, the addressees, the sealing and the receipt
    check of one call see the same directory, and the store is asked once instead of
    at each (five times per accepted request, five per delivery). A change to the
    directory inside the block (:meth:`DirectoryService.directory_for_update`) makes
    the rest of the block read the store again."""
    token = _memo.set({})
    try:
        yield
    finally:
        _memo.reset(token)


class OneDirectoryPerRequest:
    """ASGI middleware: each HTTP request is one :func:`one_directory_read` block."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        with one_directory_read():
            await self.app(scope, receive, send)


def _with_events(aggregate, events: list):
    """``aggregate`` with those of ``events`` it does not have yet applied, on a copy (a published
    aggregate is shared between threads and never changed); itself when there are none."""
    if not events or aggregate.version >= events[-1].originator_version:
        return aggregate
    aggregate = deepcopy(aggregate)
    for event in events:
        if event.originator_version > aggregate.version:
            aggregate = event.mutate(aggregate)
    return aggregate


class Unauthenticated(Exception):
    """No valid credential; the API answers 401 without saying which part failed."""


@dataclass
class DirectoryService:
    store: EventStore
    agreements: Agreements
    clock: object
    administration: str
    _snapshot: Directory | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # Credentials this process has read, as last read (published copies, never changed in place).
    _credentials: dict = field(default_factory=dict, repr=False)

    # -- the directory aggregate ------------------------------------------------
    def ensure(self, name: str) -> Directory:
        if self.store.exists(directory_id(self.administration)):
            return self.directory()
        directory = Directory(administration=self.administration, name=name)
        self.store.commit(directory)
        return directory

    def directory(self) -> Directory:
        """The directory as stored now, as a read-only snapshot; inside
        :func:`one_directory_read` (an API request, a delivery), as stored when the
        block first asked, so every check of one call sees the same directory."""
        memo = _memo.get()
        held = memo.get(id(self)) if memo is not None else None
        if held is not None and held is not _CHANGING:
            return held
        current = self._current()
        if memo is not None and held is None:
            memo[id(self)] = current
        return current

    def _current(self, newer: list | None = None) -> Directory:
        """Every read asks the store for events newer than the snapshot (another
        process may have written), applies them to a copy and publishes that copy;
        a published snapshot is never mutated, so threads can share it. The store
        is read outside the lock (concurrent deliveries read at once); only
        publishing a newer copy takes it. Callers that change the directory use
        :meth:`directory_for_update`.
        """
        aggregate_id = directory_id(self.administration)
        snapshot = self._snapshot
        if snapshot is None:
            with self._lock:
                if self._snapshot is None:
                    self._snapshot = self.store.load(aggregate_id,
                                                     NotFound("the node is not initialised; run `cmaa init`"))
                return self._snapshot
        if newer is None:  # (given: read with something else, in the same statement)
            newer = list(self.store.events.get(aggregate_id, gt=snapshot.version))
        if not newer:
            return snapshot
        with self._lock:
            self._snapshot = _with_events(self._snapshot, newer)
            return self._snapshot

    def directory_now(self) -> Directory:
        """As stored now, even inside :func:`one_directory_read` (a partner's directory refreshed meanwhile,
        perhaps by another thread); the rest of the block sees this one."""
        current = self._current()
        memo = _memo.get()
        if memo is not None:
            memo[id(self)] = current
        return current

    def directory_for_update(self) -> Directory:
        """A private copy as stored now, to change and commit. Inside
        :func:`one_directory_read`, the block reads the store at every later
        :meth:`directory` call, so it sees its own change."""
        memo = _memo.get()
        if memo is not None:
            memo[id(self)] = _CHANGING
        return deepcopy(self._current())

    def _change(self, command: str, **kwargs) -> Directory:
        directory = self.directory_for_update()
        getattr(directory, command)(at=self.clock.now(), **kwargs)
        self.store.commit(directory)
        return directory

    # -- commands --------------------------------------------------------------
    def designate_official(self, *, by: str, official_id: str, name: str, email: str, roles: list[str]) -> Directory:
        return self._change("designate_official", by=by, official_id=official_id, name=name, email=email, roles=roles)

    def revoke_official(self, *, by: str, official_id: str, reason: str) -> Directory:
        return self._change("revoke_official", by=by, official_id=official_id, reason=reason)

    def register_partner(self, *, by: str, administration: str, name: str, agreements: list[str],
                         endpoint: str | None = None, languages: list[str] | None = None) -> Directory:
        with fields_as_sent(partner_administration="administration"):
            require_administration_code(administration)  # "ZZZ" is not a code, before "ZZZ is not a party"
        for index, agreement in enumerate(agreements):
            with fields_as_sent(agreement=f"agreements.{index}", partner_administration="administration"):
                self.agreements.get(agreement).require_parties(self.administration, administration)
        with fields_as_sent(partner_administration="administration"):
            return self._change("register_partner", by=by, administration=administration, name=name,
                                agreements=agreements, endpoint=endpoint, languages=languages or [])

    def designate_partner_official(self, *, by: str, administration: str, official_id: str, name: str) -> Directory:
        return self._change("designate_partner_official", by=by, administration=administration,
                            official_id=official_id, name=name)

    def record_agreement_period(self, *, by: str, agreement: str, in_force_from: date | None,
                                termination_notified_on: date | None) -> Directory:
        return self._change("record_agreement_period", by=by, profile=self.agreements.get(agreement),
                            in_force_from=in_force_from, termination_notified_on=termination_notified_on)

    def set_agreement_parameter(self, *, by: str, agreement: str, parameter: str, value) -> Directory:
        """A deployment parameter of an agreement (``deployment_parameters`` of its profile), recorded
        with who and when; the rules apply it from the next request on (``Directory.terms``)."""
        return self._change("set_agreement_parameter", by=by, profile=self.agreements.get(agreement),
                            parameter=parameter, value=value)

    # -- credentials -------------------------------------------------------------
    def issue_credential(self, *, by: str, official_id: str, valid_for: timedelta | None = None) -> str:
        """Issue a bearer token for one of the node's active officials; returned once.
        With ``valid_for`` it expires after that long; without, it lasts until revoked."""
        self.directory().require_active(official_id)
        token_id, secret_digest, token = tokens.new_token()
        now = self.clock.now()
        self.store.commit(
            Credential(token_id=token_id, official_id=official_id, secret_digest=secret_digest, by=by,
                       at=now, expires_at=now + valid_for if valid_for else None)
        )
        return token

    def credentials(self) -> list[dict]:
        """Every credential ever issued: id, official, issued, expiry, revoked; never the secret or its digest."""
        issued = self.store.notifications(1, 1_000_000, topics=("domain.credentials:Credential.CredentialIssued",))
        listed = []
        for notification in issued:
            credential = self.store.load(notification.originator_id)
            listed.append({"token_id": credential.token_id, "official_id": credential.official_id,
                           "issued_at": credential.issued_at, "expires_at": credential.expires_at,
                           "revoked_at": credential.revoked_at})
        return listed

    def revoke_credential(self, *, by: str, token_id: str, reason: str) -> None:
        credential = self.store.load(credential_id(token_id), NotFound(f"no credential {token_id}", field="token_id"))
        credential.revoke(reason=reason, by=by, at=self.clock.now())
        self.store.commit(credential)

    def authenticate(self, token: str) -> Principal:
        parsed = tokens.parse(token)
        token_id, secret = parsed if parsed else ("", "")
        credential = self._credential(token_id) if parsed else None
        expected = credential.secret_digest if credential else _DUMMY_DIGEST
        valid = hmac.compare_digest(tokens.digest(secret), expected)
        if not (credential and valid and credential.valid_at(self.clock.now())):
            raise Unauthenticated()
        try:
            record = self.directory().require_active(credential.official_id)
        except NotPermitted:
            raise Unauthenticated() from None
        return Principal(credential.official_id, self.administration, tuple(record["roles"]))

    def _credential(self, token_id: str) -> Credential | None:
        """The credential as stored now. One this process has read before is kept; each later
        authentication asks the store, in one statement, for what is new since for it and for the
        directory (a revocation, or an official suspended, by another process counts at once)."""
        cid = credential_id(token_id)
        known = self._credentials.get(cid)
        if known is None:
            try:
                credential = self.store.load(cid)
            except NotFound:
                return None
        else:
            memo, snapshot = _memo.get(), self._snapshot
            with_directory = memo is not None and memo.get(id(self)) is None and snapshot is not None
            since = {cid: known.version}
            if with_directory:  # the block's first read of the directory, in the same statement
                since[snapshot.id] = snapshot.version
            newer = self.store.newer_events(since)
            credential = _with_events(known, newer[cid])
            if with_directory:
                memo[id(self)] = self._current(newer[snapshot.id])
        with self._lock:
            if len(self._credentials) >= 10_000:
                self._credentials.clear()
            if cid not in self._credentials or self._credentials[cid].version <= credential.version:
                self._credentials[cid] = credential
        return credential
