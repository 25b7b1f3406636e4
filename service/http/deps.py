"""Typed dependencies: the node, the authenticated caller."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from adapters.store_faults import begin_work
from service.exchange.directory import Unauthenticated
from service.node import Node
from service.principal import Principal

bearer = HTTPBearer(auto_error=False, description="A credential issued by `cmaa credentials issue`")


async def get_node(request: Request) -> Node:
    """The node, failing fast while its store is known to be down. Runs on the event loop: a
    dependency written ``def`` would cost a hand-off to a worker thread and back (~0.2 CPU ms
    per request, bench/exchange.py) for work that does not block."""
    node = request.app.state.node
    node.store.gate.check()
    return node


NodeDep = Annotated[Node, Depends(get_node)]


class RecentCallers:
    """This process's memory of the callers of recent requests, by a digest of their credential.

    Looking a credential up in the store takes a hand-off to a worker thread (~0.4 CPU ms a request,
    bench/api_calls.py); the endpoint's own hand-off follows anyway. A caller found here is let through
    the role check on the event loop *provisionally*: on the endpoint's worker thread, before anything
    else, the credential and roles are checked against the store again (``Principal.confirm``), and a
    request that fails it — a credential revoked, expired, or a role withdrawn since — is refused 401/403
    having done nothing; a request whose input is invalid is checked before its 422 is shown
    (``problems.on_validation_error``). Never a decision from memory alone."""

    BOUND = 4096

    def __init__(self):
        self._known: dict[str, Principal] = {}

    @staticmethod
    def _key(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def get(self, token: str) -> Principal | None:
        return self._known.get(self._key(token))

    def remember(self, token: str, principal: Principal) -> None:
        if len(self._known) >= self.BOUND:
            self._known.clear()
        self._known[self._key(token)] = replace(principal, confirm=None)


def _authenticated_now(node: Node, token: str, recent: RecentCallers) -> Principal:
    """On a worker thread: the request's first step there, so this is where one that waited too long
    for it is turned away (``service/http/deadline.py``); then the credential as stored now."""
    begin_work()
    principal = node.directory.authenticate(token)
    recent.remember(token, principal)
    return principal


async def current_principal(
    request: Request, node: NodeDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated()
    token = credentials.credentials
    recent = getattr(request.app.state, "recent_callers", None)
    if recent is None:
        recent = request.app.state.recent_callers = RecentCallers()
    known = recent.get(token)
    if known is None:  # first seen by this process (or forgotten): looked up now
        principal = await run_in_threadpool(_authenticated_now, node, token, recent)
    else:  # provisionally: confirmed on the endpoint's worker thread first (above)
        principal = replace(known, confirm=lambda: _authenticated_now(node, token, recent))
    if node.limiter is not None:
        node.limiter.hit("official", principal.official_id)
    request.scope["cmaa.principal"] = principal
    return principal


def principal_for(node: Node, token: str) -> Principal:
    """The caller a credential names, as stored now, counted against its rate limit (blocking: the
    console's pages, which hold the credential in their session)."""
    principal = node.directory.authenticate(token)
    if node.limiter is not None:
        node.limiter.hit("official", principal.official_id)
    return principal


def confirmed(values: dict) -> None:
    """On the endpoint's worker thread, before it runs: every provisional caller among its arguments
    checked against the store and replaced by the caller as stored now (raises 401/403 otherwise)."""
    for name, value in values.items():
        if isinstance(value, Principal) and value.confirm is not None:
            values[name] = value.confirm()


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]

Purpose = Annotated[str | None, Header(alias="X-Purpose", max_length=200,
                                       description="Why personal data is read (recorded in the activity log)")]
