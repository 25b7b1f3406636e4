"""Who may call an endpoint, checked before anything of the request is read.

Each secured route takes its caller through one of the aliases below instead of the bare
``CurrentPrincipal``. FastAPI resolves dependencies before it validates the body, and a
dependency that raises stops the request there: a caller without the role gets 403 and
never a 422 that would describe the endpoint's schema (a role must not learn an endpoint's
input by probing it). The application services check roles again (defence in depth);
the aliases name the roles that can ever succeed, the services the finer rules.
"""

from __future__ import annotations

from typing import Annotated

from dataclasses import replace

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from domain.directory import ROLES
from service.http.deps import CurrentPrincipal
from service.principal import Principal


class RoleCheck:
    """A dependency: the authenticated caller, if it holds one of ``roles``; else 403."""

    def __init__(self, *roles: str):
        unknown = set(roles) - set(ROLES)
        if not roles or unknown:
            raise ValueError(f"roles must be a non-empty subset of {ROLES}: {roles}")
        self.roles = roles

    def check(self, who: Principal) -> Principal:
        """The same check, for a caller already confirmed (the console's pages)."""
        who.require(*self.roles)
        return who

    async def __call__(self, request: Request, who: CurrentPrincipal) -> Principal:
        # On the event loop: the check itself blocks nothing. A caller recognised from memory
        # (service/http/deps.py RecentCallers) without the role is looked up in the store before
        # it is refused (a role granted since); one with it is confirmed, roles included, on the
        # endpoint's worker thread before the endpoint runs.
        if who.confirm is not None and not set(self.roles) & set(who.roles):
            who = await run_in_threadpool(who.confirm)
        if who.confirm is None:
            who.require(*self.roles)
            return who
        check, roles = who.confirm, self.roles

        def confirm() -> Principal:
            fresh = check()
            fresh.require(*roles)
            return fresh

        who = replace(who, confirm=confirm)
        request.scope["cmaa.principal"] = who
        return who

    def __repr__(self) -> str:
        return f"RoleCheck{self.roles}"


def holding(*roles: str):
    return Annotated[Principal, Depends(RoleCheck(*roles))]


Official = holding("official")
Reader = holding("official", "auditor")  # reads of cases
Auditor = holding("auditor")
Operator = holding("operator")
Dpo = holding("dpo")
AnyRole = holding(*ROLES)


def roles_of(route) -> tuple[str, ...] | None:
    """The roles a route admits (``None``: it takes no RoleCheck), for documentation and tests."""
    stack = list(getattr(route, "dependant", None).dependencies) if getattr(route, "dependant", None) else []
    while stack:
        dependant = stack.pop()
        if isinstance(dependant.call, RoleCheck):
            return dependant.call.roles
        stack.extend(dependant.dependencies)
    return None

