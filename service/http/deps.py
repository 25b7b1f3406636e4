"""Typed dependencies: the node, the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.exchange.directory import Unauthenticated
from service.node import Node
from service.principal import Principal

bearer = HTTPBearer(auto_error=False, description="A credential issued by `cmaa credentials issue`")


def get_node(request: Request) -> Node:
    return request.app.state.node


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
