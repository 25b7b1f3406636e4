"""Typed dependencies: the node, the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

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


def get_started_node(request: Request) -> Node:
    """The node, for a request without a credential that will use the store: the first step on a
    worker thread, so this is where a request that waited too long for one is turned away
    (``service/http/deadline.py``)."""
    begin_work()
    node = request.app.state.node
    node.store.gate.check()
    return node


NodeDep = Annotated[Node, Depends(get_node)]
StartedNode = Annotated[Node, Depends(get_started_node)]


def current_principal(
    node: NodeDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    """The caller. The request's first step on a worker thread (the look-up reads the store), so
    this is where a request that waited too long for one is turned away (``service/http/deadline.py``)."""
    begin_work()
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated()
    principal = node.directory.authenticate(credentials.credentials)
    if node.limiter is not None:
        node.limiter.hit("official", principal.official_id)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]

Purpose = Annotated[str | None, Header(alias="X-Purpose", max_length=200,
                                       description="Why personal data is read (recorded in the activity log)")]
