"""The app's routes as a flat list (FastAPI keeps included routers as nodes)."""

from __future__ import annotations

import functools
import inspect

from fastapi import APIRouter
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


class NodeRouter(APIRouter):
    """The API's routers: ``def`` endpoints run with one hand-off to a worker thread (above)."""

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
