"""The console's plumbing: mounting, sessions and CSRF on every request, pages for every error."""

from __future__ import annotations

import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Callable

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import DomainError
from service.console.session import COOKIE, SIGN_IN_COOKIE, Session, Sessions
from service.exchange.directory import Unauthenticated
from service.http.deps import principal_for
from service.http import problems
from service.http.problems import _status_of
from service.http.ratelimit import RateLimited
from service.http.roles import RoleCheck
from service.principal import Principal

HERE = Path(__file__).parent
PREFIX = "/console"
templates = Jinja2Templates(directory=str(HERE / "templates"))


def show(value: Any) -> str:
    """A value of a case or an event, as a person reads it."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, dict):
        if set(value) == {"restricted"}:
            return str(value["restricted"])
        return "; ".join(f"{k.replace('_', ' ')}: {show(v)}" for k, v in value.items() if v not in (None, "", [], {}))
    if isinstance(value, (list, tuple)):
        return ", ".join(show(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def when_ms(value: Any) -> str:
    return datetime.fromtimestamp(int(value) / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value else ""


templates.env.filters.update(show=show, when_ms=when_ms)
templates.env.globals["new_idempotency_key"] = lambda: secrets.token_urlsafe(16)  # one per form rendered
# No inline script or style, nothing from elsewhere: the console works on a network with no internet.
CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; script-src 'none'; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "Cache-Control": "no-store", "X-Frame-Options": "DENY"}


class CsrfRefused(Exception):
    pass


@dataclass
class Ctx:
    """One console request: the node, the session, the caller (re-authenticated every time) and the form."""

    request: Request
    node: Any
    session: Session
    who: Principal
    form: dict[str, Any]

    def field(self, name: str, default: str = "") -> str:
        value = self.form.get(name, default)
        return value.strip() if isinstance(value, str) else default

    def many(self, name: str) -> list[str]:
        return [v.strip() for v in self.form.get(f"{name}[]", []) if isinstance(v, str) and v.strip()]


def render(ctx: Ctx | None, request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    values.update(request=request, who=ctx.who if ctx else None, csrf=ctx.session.csrf if ctx else None,
                  flash=ctx.session.flash[:] if ctx else [], prefix=PREFIX)
    if ctx:
        ctx.session.flash.clear()
    response = templates.TemplateResponse(request, template, values, status_code=status)
    return response


def redirect(path: str, flash: str | None = None, ctx: Ctx | None = None) -> RedirectResponse:
    if flash and ctx:
        ctx.session.flash.append(flash)
    return RedirectResponse(PREFIX + path, status_code=303)


def _sessions(request: Request) -> Sessions:
    return request.app.state.console_sessions


def _principal(request: Request, session: Session) -> Principal:
    """The API's own authentication and rate limit, on the credential the session holds."""
    return principal_for(request.app.state.node, session.token)


async def page(request: Request) -> Ctx:
    """A page: a live session whose credential still authenticates."""
    session = _sessions(request).get(request.cookies.get(COOKIE))
    if session is None:
        raise Unauthenticated()
    return Ctx(request, request.app.state.node, session, _principal(request, session), {})


async def form(request: Request) -> Ctx:
    return await _form(request)


async def _form(request: Request, check: RoleCheck | None = None) -> Ctx:
    """A form post: a page, and the session's CSRF token in the form (refused when missing or wrong).
    With ``check``, the caller's role is checked first, before anything of the form is read (as the API)."""
    session = _sessions(request).get(request.cookies.get(COOKIE))
    if session is None:
        raise Unauthenticated()
    who = _principal(request, session)
    if check is not None:
        check.check(who)
    data = await request.form()
    values: dict[str, Any] = {}
    for key in data.keys():
        items = data.getlist(key)
        values[key] = items if key.endswith("[]") else items[-1]
    if not hmac.compare_digest(str(values.get("csrf", "")), session.csrf):
        raise CsrfRefused()
    return Ctx(request, request.app.state.node, session, who, values)


def holding(*roles: str) -> tuple[Callable, Callable]:
    """The dependencies of a page and of a form that only ``roles`` may use: the API's RoleCheck."""
    check = RoleCheck(*roles)

    async def a_page(request: Request) -> Ctx:
        ctx = await page(request)
        check.check(ctx.who)
        return ctx

    async def a_form(request: Request) -> Ctx:
        return await _form(request, check)

    return a_page, a_form


CASE_PATH = re.compile(rf"^{PREFIX}/cases/([0-9a-f-]{{36}})/")


def _problem_page(request: Request, status: int, title: str, detail: str, article: str | None = None,
                  field: str | None = None) -> HTMLResponse:
    session = _sessions(request).get(request.cookies.get(COOKIE))
    who = None
    if session is not None and status not in (401, 429):
        try:
            who = _principal(request, session)
        except Exception:  # an error page never fails: without the menu, then
            who = None
    case = CASE_PATH.match(request.url.path)
    back = (f"{PREFIX}/cases/{case.group(1)}", "Back to the case") if case and session else \
        (f"{PREFIX}/", "Back to the start page") if session else (f"{PREFIX}/sign-in", "Sign in")
    values = dict(request=request, title=title, detail=detail, article=article, field=field, status=status,
                  who=who, csrf=session.csrf if session else None, flash=[], prefix=PREFIX, back=back)
    return templates.TemplateResponse(request, "problem.html", values, status_code=status)


class ConsoleRoute(APIRoute):
    """Every console answer is a page with the security headers; an error is a page naming the rule
    (and its article), never a stack trace and never JSON."""

    def get_route_handler(self) -> Callable:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except Unauthenticated:
                response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
                response.delete_cookie(COOKIE, path=PREFIX)
            except CsrfRefused:
                response = _problem_page(request, 403, "Form expired or forged", "the form did not carry this "
                                         "session's security token; nothing was changed. Go back, reload the page "
                                         "and submit it again")
            except RateLimited as error:
                response = _problem_page(request, 429, "Too many requests", str(error))
            except DomainError as error:
                response = _problem_page(request, _status_of(error), error.title, str(error), error.article,
                                         error.field)
            except RequestValidationError:
                response = _problem_page(request, 404, "Not found", "there is no such page or record")
            except ValidationError as error:
                first = error.errors()[0]
                where = ".".join(str(p) for p in first.get("loc", ()))
                response = _problem_page(request, 422, "Invalid input", f"{where}: {first.get('msg')}")
            except StarletteHTTPException as error:
                response = _problem_page(request, error.status_code, "Not found" if error.status_code == 404
                                         else "Request refused", str(error.detail))
            except Exception as error:  # never a stack trace on a page; the API's own decision on what it is
                answer = await problems.on_unexpected(request, error)  # (store busy or down: 503; else 500, logged)
                body = json.loads(answer.body)
                response = _problem_page(request, body["status"], body["title"], body["detail"])
                if "retry-after" in answer.headers:
                    response.headers["Retry-After"] = answer.headers["retry-after"]
            for name, value in HEADERS.items():
                response.headers[name] = value
            return response

        return handler


def router() -> APIRouter:
    return APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


def set_session_cookie(request: Request, response: Response, session: Session) -> None:
    response.set_cookie(COOKIE, session.id, httponly=True, samesite="strict", secure=request.url.scheme == "https",
                        path=PREFIX, max_age=8 * 3600)


def sign_in_token(request: Request) -> str:
    return request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(24)
