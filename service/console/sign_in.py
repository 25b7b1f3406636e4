"""Signing in with an official's credential, signing out, and the start page."""

from __future__ import annotations

import hmac

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse


from service.console.session import COOKIE, SIGN_IN_COOKIE
from service.console.web import (PREFIX, CsrfRefused, Ctx, form, page, render, router, set_session_cookie,
                                 sign_in_token, templates)
from service.exchange.directory import Unauthenticated
from service.http.deps import principal_for

routes = router()


def _sign_in_page(request: Request, error: str | None = None, status: int = 200):
    token = sign_in_token(request)
    response = templates.TemplateResponse(request, "sign_in.html", {
        "request": request, "who": None, "csrf": token, "flash": [], "prefix": PREFIX, "error": error,
    }, status_code=status)
    response.set_cookie(SIGN_IN_COOKIE, token, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path=f"{PREFIX}/sign-in", max_age=3600)
    return response


@routes.get("/sign-in")
def sign_in_form(request: Request):
    return _sign_in_page(request)


@routes.post("/sign-in")
async def sign_in(request: Request):
    data = await request.form()
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    if not expected or not hmac.compare_digest(str(data.get("csrf", "")), expected):
        raise CsrfRefused()
    token = str(data.get("credential", "")).strip()
    if not token:
        return _sign_in_page(request, "Enter your credential", 422)
    node = request.app.state.node
    try:
        who = principal_for(node, token)
    except Unauthenticated:
        return _sign_in_page(request, "This credential is not valid: it is unknown, expired or revoked", 401)
    session = request.app.state.console_sessions.create(token, who.official_id)
    response = RedirectResponse(f"{PREFIX}/", status_code=303)
    set_session_cookie(request, response, session)
    response.delete_cookie(SIGN_IN_COOKIE, path=f"{PREFIX}/sign-in")
    return response


@routes.post("/sign-out")
def sign_out(request: Request, ctx: Ctx = Depends(form)):
    request.app.state.console_sessions.drop(ctx.session.id)
    response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response


@routes.get("/")
def home(request: Request, ctx: Ctx = Depends(page)):
    return render(ctx, request, "home.html", directory=ctx.node.directory.directory())


def not_found(request: Request):
    """Any other address under the console: a page, not the API's JSON."""
    from starlette.exceptions import HTTPException

    raise HTTPException(404, "there is no such page in the console")

