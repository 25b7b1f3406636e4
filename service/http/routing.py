"""The app's routes as a flat list (FastAPI keeps included routers as nodes)."""

from __future__ import annotations

import functools
import inspect
import json
import re
import sys

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from adapters.store_faults import begin_work
from starlette.routing import Match


def on_worker_thread(function):
    """A ``def`` endpoint as a coroutine that runs it on a worker thread.

    FastAPI runs a ``def`` endpoint on a worker thread, then validates its answer on another hand-off
    to a worker thread (``serialize_response``); each hand-off costs ~0.2 CPU ms (bench/exchange.py,
    docs/performance.md). As a coroutine the endpoint is one hand-off and its answer is validated on
    the event loop. The signature (and so the dependencies, the body and the OpenAPI document) is the
    function's own: FastAPI reads it through ``__wrapped__``."""
    @functools.wraps(function)
    async def endpoint(**values):
        return await run_in_threadpool(_first_confirmed, function, values)
    return endpoint


def started(function, *args):
    """On a worker thread: refuse work that waited past its bound for the thread
    (``service/http/deadline.py``), then run it."""
    begin_work()
    return function(*args)


def _first_confirmed(function, values: dict):
    """On the worker thread: refuse a request that waited past its bound for it, confirm its caller
    against the store (``service/http/deps.py``), then run the endpoint."""
    from service.http.deps import confirmed

    begin_work()
    confirmed(values)
    return function(**values)


class JsonBody(Request):
    """A request whose body, read as JSON, fails only with :class:`json.JSONDecodeError`: FastAPI answers
    that as the validation error ``json_invalid`` (a problem naming ``body``, service/http/problems.py),
    but anything else the parser raises (text that is not UTF-8, nesting deeper than the parser recurses,
    a number of more digits than Python converts) as a bare 400 "There was an error parsing the body"."""

    async def json(self):
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = json.loads(body)
            except json.JSONDecodeError:
                raise
            except UnicodeDecodeError as error:
                raise json.JSONDecodeError("the text is not UTF-8", _text(body), error.start) from None
            except RecursionError:
                raise json.JSONDecodeError("arrays and objects are nested too deeply", _text(body), 0) from None
            except ValueError as error:  # int(): sys.get_int_max_str_digits()
                digits = sys.get_int_max_str_digits()
                long = re.search(rb"\d{%d,}" % (digits + 1), body)
                raise json.JSONDecodeError(f"a number has more than {digits} digits", _text(body),
                                           long.start() if long else 0) from error
        return self._json


def _text(body: bytes) -> str:
    return body.decode("utf-8", "replace")


class UnsupportedMediaType(Exception):
    """The body is not of the media type the operation reads (service/http/problems.py: 415)."""

    def __init__(self, sent: str | None, expected: tuple[str, ...]):
        self.sent = sent
        self.expected = expected
        super().__init__(f"the body must be {' or '.join(expected)}"
                         + (f", not {sent}" if sent else " (the request has no Content-Type)"))


UNSUPPORTED = "cmaa.unsupported_media_type"


def _accepts(content_type: str, expected: tuple[str, ...]) -> bool:
    sent = content_type.split(";", 1)[0].strip().lower()  # the media type, without its parameters (RFC 9110 §8.3)
    if "application/json" in expected and sent.startswith("application/") and sent.endswith("+json"):
        return True  # e.g. application/merge-patch+json, as FastAPI reads it
    return sent in expected


class NodeRoute(APIRoute):
    """An operation of the API. One that reads a body reads only the media type it documents
    (``application/json``, or what its ``openapi_extra`` declares, e.g. the inbox's
    ``application/jose+json``): another, or none with a body, is refused with 415 before the endpoint
    runs (once the caller's role is checked); a body that cannot be read as JSON is a problem naming
    ``body`` (:class:`JsonBody`)."""

    def get_route_handler(self):
        handler = super().get_route_handler()
        declared = (self.openapi_extra or {}).get("requestBody", {}).get("content")
        expected = tuple(declared) if declared else ("application/json",) if self.body_field is not None else ()
        if not expected:
            return handler

        async def reading_its_media_type(request: Request):
            content_type = request.headers.get("content-type")
            has_body = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
            if (content_type is None and has_body) or (content_type is not None and not _accepts(content_type,
                                                                                                expected)):
                if self.body_field is None:  # the inbox: no caller to check first
                    raise UnsupportedMediaType(content_type, expected)
                # FastAPI keeps the body as bytes, which no request schema takes: the validation error is
                # answered as 415 once the caller's role is checked (a caller without it gets 403 first).
                request.scope[UNSUPPORTED] = UnsupportedMediaType(content_type, expected)
            request.__class__ = JsonBody  # same scope and stream, its own json()
            return await handler(request)
        return reading_its_media_type


class NodeRouter(APIRouter):
    """The API's routers: ``def`` endpoints run with one hand-off to a worker thread (above)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("route_class", NodeRoute)
        super().__init__(*args, **kwargs)

    def add_api_route(self, path, endpoint, **kwargs):
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = on_worker_thread(endpoint)
        return super().add_api_route(path, endpoint, **kwargs)


def api_routes(routes, prefix: str = ""):
    """Every APIRoute of an app as (full path template, route), through included routers."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes, prefix + route.include_context.prefix)
        elif hasattr(route, "dependant"):
            yield prefix + route.path, route


def allowed_methods(app, scope) -> list[str]:
    """The methods of the resource a request's path names: those of every route with the same
    path template as the first route that matches the path (``/cases`` is GET and POST;
    ``/cases/spontaneous`` is POST only, though ``/cases/{case_id}`` would also match it)."""
    probe = {key: scope[key] for key in ("type", "path", "root_path", "headers") if key in scope}
    probe["method"] = "OPTIONS"
    routes = list(api_routes(app.router.routes))
    for template, route in routes:
        if route.matches(probe)[0] is not Match.NONE:
            methods = {m for t, r in routes if t == template for m in r.methods}
            return sorted(methods | ({"HEAD"} if "GET" in methods else set()))
    return []


class HeadAsGet:
    """RFC 9110 §9.3.2: HEAD is GET without the content. FastAPI's routes answer GET only, so a
    HEAD runs as the GET it stands for (same authentication, roles and recorded reads) and its
    answer goes out with the GET's headers, ``Content-Length`` included, and no body."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "HEAD":
            return await self.app(scope, receive, send)

        async def headers_only(message):
            if message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
