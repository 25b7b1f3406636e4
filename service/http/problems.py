"""The one place that turns errors into RFC 9457 ``application/problem+json``.

Routes never raise HTTPException for business rules; they let domain errors
through and this module answers with the status, the field, the reason and,
for treaty rules, the article.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from adapters.store import store_busy
from adapters.store_faults import StoreUnavailable, StoreWaitExceeded, store_unavailable
from domain.errors import (
    as_prose,
    ConcurrentUpdate,
    DomainError,
    IllegalTransition,
    InvalidInput,
    NotFound,
    NotPermitted,
    TreatyRuleViolation,
)
from service.exchange.directory import Unauthenticated
from domain.personal_data import ProcessingRestricted
from service.http.ratelimit import RateLimited
from service.http.routing import allowed_methods, UNSUPPORTED, UnsupportedMediaType

log = logging.getLogger("cmaa.problems")

PROBLEM_JSON = "application/problem+json"

STATUS = {
    ProcessingRestricted: 423,
    TreatyRuleViolation: 422,
    InvalidInput: 422,
    IllegalTransition: 409,
    ConcurrentUpdate: 409,
    NotPermitted: 403,
    NotFound: 404,
}


# Called with every problem body this node answers (the test suite checks each reads as prose).
WATCHERS: list[Callable[[dict], None]] = []
# What Python's repr() leaves in a message: None, empty containers, quoted internals ('x', ['a']).
PYTHON_REPR = re.compile(r"\bNone\b|\[\]|\{\}|[\[{(]'|(?<![A-Za-z])'[^'\n]*'(?![A-Za-z])")


def python_repr_in(body: dict) -> list[str]:
    """The texts of a problem (its detail, its errors' reasons) that show a Python representation."""
    texts = [str(body.get("detail", ""))] + [str(e.get("reason", "")) for e in body.get("errors") or []]
    return [text for text in texts if PYTHON_REPR.search(text)]


def problem_body(status: int, problem_type: str, title: str, detail: str, instance: str, **extra: Any) -> dict:
    """An RFC 9457 problem as a dict: the body of :func:`problem`, or one envelope's answer in a batch."""
    body = {
        "type": f"urn:cmaa:problem:{problem_type}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    for watch in WATCHERS:
        watch(body)
    return body


def problem(status: int, problem_type: str, title: str, detail: str, request: Request, **extra: Any) -> JSONResponse:
    body = problem_body(status, problem_type, title, detail, request.url.path, **extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _status_of(exc: DomainError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


async def on_domain_error(request: Request, exc: DomainError) -> JSONResponse:
    errors = getattr(exc, "missing", None)
    return problem(_status_of(exc), exc.code, exc.title, str(exc), request,
                   field=exc.field, reason=exc.detail, article=exc.article, errors=errors)


async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    caller = request.scope.get("cmaa.principal")
    if caller is not None and caller.confirm is not None:
        # A caller let through from memory (service/http/deps.py) sees what the endpoint expects only
        # once the store confirms its credential and role.
        try:
            await run_in_threadpool(caller.confirm)
        except Unauthenticated as error:
            return await on_unauthenticated(request, error)
        except NotPermitted as error:
            return await on_domain_error(request, error)
    allowed = allowed_methods(request.app, request.scope)
    if allowed and request.method not in allowed:
        # e.g. GET /cases/oral: the resource exists (POST only) and only /cases/{case_id}
        # matched the method, with a case id that is no UUID; the truth is 405, not 422.
        response = problem(405, "http-405", "Method not allowed", "Method Not Allowed", request)
        response.headers["Allow"] = ", ".join(allowed)
        return response
    if request.scope.get(UNSUPPORTED) is not None:  # service/http/routing.py NodeRoute
        return await on_unsupported_media_type(request, request.scope[UNSUPPORTED])
    errors = []
    for error in exc.errors():
        if error.get("type") == "json_invalid":  # service/http/routing.py JsonBody: every way JSON fails to parse
            position = error.get("loc", ("body", 0))[-1]
            reason = f"the body is not valid JSON: {error.get('ctx', {}).get('error', 'unreadable')} (at character {position})"
            return problem(422, "invalid-json", "Body is not valid JSON", reason, request, field="body", reason=reason,
                           errors=[{"field": "body", "reason": reason}])
        location = [str(part) for part in error.get("loc", ()) if part not in ("body",)]
        errors.append({"field": ".".join(location) or "body", "reason": as_prose(error.get("msg", "invalid"))})
    first = errors[0] if errors else {"field": "body", "reason": "invalid"}
    return problem(422, "validation-error", "Invalid request",
                   f"{first['field']}: {first['reason']}", request, field=first["field"], reason=first["reason"],
                   errors=errors)


async def on_unsupported_media_type(request: Request, exc: UnsupportedMediaType) -> JSONResponse:
    reason = str(exc)
    response = problem(415, "unsupported-media-type", "Unsupported media type", reason, request,
                       field="header.content-type", reason=reason, expected=" or ".join(exc.expected),
                       errors=[{"field": "header.content-type", "reason": reason}])
    if request.method == "POST":
        response.headers["Accept-Post"] = ", ".join(exc.expected)
    return response


async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    titles = {404: "Not found", 405: "Method not allowed", 413: "Request body too large", 429: "Too many requests"}
    response = problem(exc.status_code, f"http-{exc.status_code}", titles.get(exc.status_code, "HTTP error"),
                       str(exc.detail), request)
    if exc.status_code == 405:
        # RFC 9110 §15.5.6: a 405 names the methods the resource supports. Starlette names only
        # those of the first route that matched the path; a path is often served by several.
        response.headers["Allow"] = ", ".join(allowed_methods(request.app, request.scope))
    return response


async def on_unauthenticated(request: Request, exc: Unauthenticated) -> JSONResponse:
    return problem(401, "unauthenticated", "Authentication required",
                   "a valid bearer credential issued by `cmaa credentials issue` is required", request)


async def on_rate_limited(request: Request, exc: RateLimited) -> JSONResponse:
    response = problem(429, "rate-limited", "Too many requests", str(exc), request, limit=exc.limit,
                       rate=exc.rate, retry_after=exc.retry_after)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    if store_busy(exc):  # SQLite: another writer held the store for the whole SQLITE_LOCK_TIMEOUT
        log.warning("store busy on %s %s: nothing was changed", request.method, request.url.path)
        response = problem(503, "store-busy", "Store busy", "the node's store stayed locked by another writer; "
                           "nothing was changed, retry", request, retry_after=1)
        response.headers["Retry-After"] = "1"
        return response
    if store_unavailable(exc):
        return _store_unavailable(request, exc)
    # Never a stack trace to the caller; the log keeps it for the operator.
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem(500, "internal-error", "Internal error",
                   "the node could not complete the request; nothing was changed", request)


STORE_RETRY_AFTER = 2  # seconds; the store is probed again within FAIL_FAST_SECONDS of a failure


def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The store is down, silent or cannot write, or the request waited past its bound for it:
    503 at once, with ``Retry-After``. The transaction was rolled back: nothing of it is stored."""
    if isinstance(exc, StoreWaitExceeded):
        code, title, detail = "store-wait-exceeded", "Store wait exceeded", str(exc)
    else:
        if not isinstance(exc, StoreUnavailable):  # a real failure, not the gate's own fast answer
            request.app.state.node.store.gate.failed(exc)
        log.warning("store unavailable on %s %s: %s: %s", request.method, request.url.path, type(exc).__name__,
                    str(exc)[:300])
        code, title = "store-unavailable", "Store unavailable"
        detail = "the node's store cannot be reached or cannot write now; nothing was changed, retry"
        ticket = request.scope.get("cmaa.ticket")
        if ticket is not None and ticket.wrote:  # the truth, not "nothing was changed"
            code, title = "store-unavailable-after-write", "Stored; the answer could not be completed"
            detail = ("the change was stored, but the node's store failed before the answer was complete; "
                      "read the resource before repeating it (a retry with the same Idempotency-Key is safe)")
    response = problem(503, code, title, detail, request, retry_after=STORE_RETRY_AFTER)
    response.headers["Retry-After"] = str(STORE_RETRY_AFTER)
    return response


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(UnsupportedMediaType, on_unsupported_media_type)
    app.add_exception_handler(Unauthenticated, on_unauthenticated)
    app.add_exception_handler(RateLimited, on_rate_limited)
    app.add_exception_handler(Exception, on_unexpected)
