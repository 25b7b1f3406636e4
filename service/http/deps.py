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


def get_node(request: Request) -> Node:
    """The node, for a request that may still use its store: runs on a worker thread, so this is
    where a request that waited too long for one is turned away (``service/http/deadline.py``),
    and where requests fail fast while the store is known to be down."""
    node = request.app.state.node
    begin_work()
    node.store.gate.check()
    return node


NodeDep = Annotated[Node, Depends(get_node)]


def current_principal(
    node: NodeDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated()
    principal = node.directory.authenticate(credentials.credentials)
    if node.limiter is not None:
        node.limiter.hit("official", principal.official_id)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]

Purpose = Annotated[str | None, Header(alias="X-Purpose", max_length=200,
                                       description="Why personal data is read (recorded in the activity log)")]
