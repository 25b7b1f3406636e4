"""``Idempotency-Key`` on writes (IETF httpapi draft "The Idempotency-Key HTTP Header Field").

A client that timed out cannot know whether its write was stored; retrying it blindly could
open a second case. Every ``POST`` with a bearer credential may carry ``Idempotency-Key``
(a structured-field string, ``"…"``; a bare token is accepted too; 1–255 printable ASCII):

* first use: the request runs; its response is recorded under (credential, key) with a
  fingerprint of the request (method, path, query, body) and answered;
* a retry with the same key and the same request gets the recorded response again
  (``Idempotent-Replayed: true``) and runs nothing;
* the same key with a different request: ``422 idempotency-key-reused``;
* while the first request is still under way: ``409 idempotency-key-in-use`` (retry later);
* if the first request's write committed but its response could not be recorded (the
  process died in between): ``409 idempotency-key-committed`` — it is never run twice; the
  write being committed is recorded in the write's own transaction (``EventStore.commit``).

The console's forms carry the key as a hidden ``idempotency_key`` field, fresh for every page
rendered (``service/console/templates/_macros.html``), scoped to the credential the signed-in
session holds: a form sent twice (a double click, a browser's resend after a timeout) is carried
out once and the second answer is the first one's.

Responses that invite a retry and changed nothing (401, 408, 409, 429, 5xx) are not recorded:
the key is freed and the retry runs. A recorded body is sealed (AES-256-GCM) under a key
derived from the credential itself (HKDF-SHA256), which the store never holds: a response that
names a person (a case's targets) does not rest readable beside the node's sealed personal data.
Keys are kept ``CMAA_IDEMPOTENCY_RETENTION_HOURS``
(default 24) in the node's store (``adapters/idempotency_keys.py``), per credential (each
credential belongs to one official; another credential cannot see or replay them).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from urllib.parse import parse_qs

import anyio.to_thread
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from adapters.idempotency_keys import IdempotencyKeys, keyed, unkeyed
from adapters.store_faults import StoreUnavailable, StoreWaitExceeded, begin_work, store_unavailable
from service.http.server import problem_body

HEADER = b"idempotency-key"
KEY = re.compile(r'^"?([\x21\x23-\x7e]{1,255})"?$')
RETRY_STATUSES = {401, 408, 409, 429}
KEPT_HEADERS = {b"content-type", b"location", b"retry-after"}
STALE_PENDING_SECONDS = 120.0
CONSOLE_PREFIX = "/console/"
FORM_FIELD = "idempotency_key"


class Idempotency:
    def __init__(self, app, keys: IdempotencyKeys, gate=None, skip_paths: tuple[str, ...] = ("/exchange/inbox", "/exchange/inbox/batch")):
        self.app, self.keys, self.gate, self.skip = app, keys, gate, skip_paths
        # (principal, key) -> our claim whose request failed while the store could not take its
        # release: the next retry may reclaim it (it never committed: that would have marked it)
        self.abandoned: dict[tuple[str, str], str] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] in self.skip:
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or ())
        raw_key, credential = headers.get(HEADER), headers.get(b"authorization")
        if credential is None and scope["path"].startswith(CONSOLE_PREFIX):
            body = await _read_body(receive)
            if body is None:
                return
            raw_key, credential = _console_key(scope, headers, body)
            if raw_key is None or credential is None:  # the page answers (sign in again, CSRF, ...)
                return await self.app(scope, _replaying(body, receive), send)
        elif raw_key is None or credential is None:
            return await self.app(scope, receive, send)
        else:
            body = None
        match = KEY.match(raw_key.decode("latin-1"))
        if not match:
            return await _problem(send, scope, 400, "invalid-idempotency-key", "Invalid Idempotency-Key",
                                  "Idempotency-Key is a string of 1 to 255 printable ASCII characters, e.g. "
                                  '"8e03978e-40d5-43e8-bc93-6894a57f9324"')
        key = match.group(1)
        principal = hashlib.sha256(credential).hexdigest()[:32]
        if body is None:  # small: CMAA_MAX_BODY_BYTES is enforced outside this middleware
            body = await _read_body(receive)
            if body is None:
                return
        fingerprint = hashlib.sha256(b"\n".join([scope["method"].encode(), scope["path"].encode(),
                                                 scope.get("query_string", b""), body])).hexdigest()
        def claim():
            begin_work()  # like every request's store work: not after the request's wait bound
            if self.gate is not None:
                self.gate.check()  # fail fast while the store is known to be down
            return self.keys.claim(principal, key, fingerprint, STALE_PENDING_SECONDS,
                                   self.abandoned.get((principal, key), ""))

        try:
            held, claimed = await anyio.to_thread.run_sync(claim)
        except StoreWaitExceeded:
            return  # nothing was claimed; StoreDeadline answers 503
        except Exception as error:
            if not store_unavailable(error):
                raise
            if self.gate is not None and not isinstance(error, StoreUnavailable):
                self.gate.failed(error)
            return await _problem(send, scope, 503, "store-unavailable", "Store unavailable",
                                  "the node's store cannot be reached or cannot write now; nothing was changed, "
                                  "retry", retry_after=2)
        if held is not None:
            return await self._answer_held(scope, send, held, fingerprint, _Seal(credential, principal, key))
        self.abandoned.pop((principal, key), None)
        await self._run(scope, receive, body, send, principal, key, claimed, _Seal(credential, principal, key))

    async def _run(self, scope, receive, body: bytes, send, principal: str, key: str, claimed: str, seal: "_Seal"):
        replay_receive = _replaying(body, receive)
        start, chunks = {}, []

        async def capture(message):
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        token = keyed(principal, key)
        try:
            await self.app(scope, replay_receive, capture)
        except BaseException:  # answered by the outermost handler (a 5xx): free the key unless committed
            await anyio.to_thread.run_sync(self._release_quietly, principal, key, claimed)
            raise
        finally:
            unkeyed(token)
        status = start.get("status", 500)
        response = b"".join(chunks)
        try:
            if _kept(scope, status):
                kept = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in start.get("headers", [])
                        if k.lower() in KEPT_HEADERS]
                await anyio.to_thread.run_sync(self.keys.answer, principal, key, status, kept, seal.close(response))
            else:
                await anyio.to_thread.run_sync(self._release_quietly, principal, key, claimed)
        except Exception:  # the store went away after the write: answer what happened all the same
            pass
        await send({**start, "type": "http.response.start", "status": status})
        await send({"type": "http.response.body", "body": response})

    def _release_quietly(self, principal: str, key: str, claimed: str) -> None:
        try:
            self.keys.release(principal, key)
        except Exception:  # the store is away: the retry reclaims it (or anyone after STALE_PENDING_SECONDS)
            if len(self.abandoned) < 100_000:
                self.abandoned[(principal, key)] = claimed

    async def _answer_held(self, scope, send, held, fingerprint: str, seal: "_Seal"):
        if held.fingerprint != fingerprint:
            return await _problem(send, scope, 422, "idempotency-key-reused", "Idempotency-Key reused",
                                  "this Idempotency-Key was used for a different request (method, path or body); "
                                  "use a new key for a new request", field="Idempotency-Key")
        if held.state == "pending":
            return await _problem(send, scope, 409, "idempotency-key-in-use", "Request under way",
                                  "a request with this Idempotency-Key is still being processed; retry later",
                                  retry_after=1)
        body = seal.open(held.body) if held.state == "done" else None
        if held.state == "committed" or body is None:
            return await _problem(send, scope, 409, "idempotency-key-committed", "Already carried out",
                                  "the request with this Idempotency-Key was carried out but its response could "
                                  "not be recorded; it is not run again — read the resource to see its result")
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in held.headers]
        headers += [(b"content-length", str(len(body)).encode()), (b"idempotent-replayed", b"true")]
        await send({"type": "http.response.start", "status": held.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _Seal:
    """A recorded response body, sealed under a key only the credential's holder can derive."""

    INFO = b"cmaa-exchange idempotency record v1"

    def __init__(self, credential: bytes, principal: str, key: str):
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=self.INFO).derive(credential)
        self.aead, self.aad = AESGCM(derived), f"{principal}\n{key}".encode()

    def close(self, body: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self.aead.encrypt(nonce, body, self.aad)

    def open(self, sealed: bytes) -> bytes | None:
        """The body, or None if it cannot be opened (recorded before bodies were sealed, or altered)."""
        try:
            return self.aead.decrypt(sealed[:12], sealed[12:], self.aad)
        except (InvalidTag, ValueError):
            return None


async def _problem(send, scope, status: int, code: str, title: str, detail: str, retry_after: int | None = None,
                   **extra):
    body = json.loads(problem_body(status, code, title, detail, scope.get("path", "")))
    body.update(extra)
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/problem+json"), (b"content-length", str(len(data)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def _kept(scope, status: int) -> bool:
    """Whether this answer is recorded for replay. A console form's only when it carried out a
    change (its redirect): a page it answers with may show personal data or a credential, which
    must not rest in the key's record; a page with errors changed nothing, so the retry runs."""
    if scope["path"].startswith(CONSOLE_PREFIX) and not _bearer(scope):
        return 300 <= status < 400
    return status < 500 and status not in RETRY_STATUSES


def _bearer(scope) -> bool:
    return any(k == b"authorization" for k, _ in scope.get("headers") or ())


async def _read_body(receive) -> bytes | None:
    """The whole request body, or None if the client went away first."""
    body, more = b"", True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return None
        body += message.get("body", b"")
        more = message.get("more_body", False)
    return body


def _replaying(body: bytes, receive):
    """The body already read, then the connection's own messages (a streamed answer waits on them
    for the client's disconnect: a made-up disconnect would cut it short)."""
    delivered = False

    async def replay():
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _console_key(scope, headers: dict, body: bytes) -> tuple[bytes | None, bytes | None]:
    """A console form's ``idempotency_key`` and the credential its session holds (None if either is missing)."""
    if not headers.get(b"content-type", b"").startswith(b"application/x-www-form-urlencoded"):
        return None, None
    keys = parse_qs(body.decode("latin-1")).get(FORM_FIELD) or [None]
    sessions = getattr(getattr(scope.get("app"), "state", None), "console_sessions", None)
    session = sessions.from_cookie_header(headers.get(b"cookie", b"")) if sessions is not None else None
    if keys[0] is None or session is None:
        return None, None
    return keys[0].encode("latin-1"), b"Bearer " + session.token.encode()

