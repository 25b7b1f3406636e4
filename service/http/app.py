"""The FastAPI application factory."""

from __future__ import annotations

import json
import logging
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from service import console
from service.http import problems
from adapters.idempotency_keys import IdempotencyKeys
from service.http.deadline import StoreDeadline
from service.http.idempotency import Idempotency
from service.http.limits import BodySizeLimit
from service.http.routing import HeadAsGet
from service.http.routes.exchange import oversized_envelope_refusal
from service.node import Node, build_node
from service.audit import SealerThread
from service.exchange.courier_runners import CourierProcess, CourierThread
from service.exchange.directory import OneDirectoryPerRequest
from service.dpo import SweepThread
from service.exchange.refresh import RefreshThread
from service.ops.heap import freeze_startup_heap
from service.ops.observability import RequestObservability
from service.http.routes import agreements, audit, cases, directory, dpo, exchange, information, operations
from service.settings import Settings

log = logging.getLogger("cmaa.node")

DESCRIPTION = """\
The node of one customs administration in **cmaa-exchange**: designated officials
open and work mutual-assistance cases under the Japan–Norway agreement (2016),
the Nairobi Convention (1977) and the Nordic agreement (1981). Every step is an
event; every refusal of a treaty rule is an RFC 9457 problem naming the article.
"""


def _operation_id(route: APIRoute) -> str:
    return f"{route.tags[0]}-{route.name}" if route.tags else route.name


PROBLEM_SCHEMA = {
    "type": "object", "title": "Problem", "description": "RFC 9457 problem details; `field`, `article`, "
    "`errors`, `step`, `code`, `retry_after` and other members appear where they apply",
    "required": ["type", "title", "status", "detail"],
    "properties": {"type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                   "detail": {"type": "string"}, "instance": {"type": "string"}, "field": {"type": "string"},
                   "article": {"type": "string"}, "errors": {"type": "array", "items": {"type": "object"}}},
    "additionalProperties": True,
}
# Every operation may answer these, always as problem+json (service/http/problems.py).
COMMON_PROBLEMS = {
    "400": "Malformed request", "404": "Not found", "405": "Method not allowed", "409": "Conflict with the "
    "current state", "413": "Request body too large", "422": "Invalid input or a treaty rule refused it "
    "(`field`, `article`)", "429": "Rate limit exceeded (`Retry-After`)", "500": "Internal error (nothing changed)",
    "503": "The store is unavailable or the request waited too long for it, or too many connections "
    "(`Retry-After`; nothing changed)",
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "Makes a retry safe (IETF httpapi Idempotency-Key draft): the same key and request return "
    "the original response; the same key with another request is 422. Kept 24 h by default "
    "(CMAA_IDEMPOTENCY_RETENTION_HOURS), per credential. See docs/operations.md.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 257, "pattern": '^"?[\\x21\\x23-\\x7e]{1,255}"?$'},
}
SECURED_PROBLEMS = {"401": "No valid bearer credential", "403": "The credential's roles do not allow this",
                    "423": "Processing of the personal data concerned is restricted by the DPO (JP-NO Art. 9(2))"}


def _document_problems(app: FastAPI) -> dict:
    """FastAPI documents only successes and its own 422 shape; the node answers every
    error as problem+json, so the published contract says so for every operation."""
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            if method == "post" and operation.get("security") and path != "/exchange/inbox":
                operation.setdefault("parameters", []).append(IDEMPOTENCY_KEY)
            responses = operation.setdefault("responses", {})
            extra = {**COMMON_PROBLEMS, **(SECURED_PROBLEMS if operation.get("security") else {})}
            if "requestBody" in operation:
                media = " or ".join(operation["requestBody"].get("content", {})) or "application/json"
                extra["415"] = f"The body is not {media} (`unsupported-media-type`)"
            for status, description in extra.items():
                responses.setdefault(status, {"description": description})
            for status, response in responses.items():
                if status[0] in "45" and "Readiness" not in json.dumps(response):
                    response["content"] = problem
    return schema


def api_shell(lifespan=None) -> FastAPI:
    """The app's routes and metadata, without a node (also used to export OpenAPI)."""
    # /docs and /redoc with their scripts and styles served by the node (no CDN): a customs network
    # without internet access still gets its API documentation.
    app = FastAPIOffline(title="cmaa-exchange node", version="0.1.0", description=DESCRIPTION,
                         generate_unique_id_function=_operation_id, lifespan=lifespan,
                         static_url="/docs-assets",
                         # A path with a trailing slash is not another name for the resource: Starlette's
                         # redirect to it was an absolute http:// URL, which behind a TLS proxy sends the
                         # client, and its token, to plain HTTP. It is a 404 problem like any unknown path.
                         redirect_slashes=False)
    for module in (cases, information, directory, agreements, exchange, audit, dpo, operations):
        app.include_router(module.router)

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = _document_problems(app)
        return app.openapi_schema

    app.openapi = openapi
    return app


def create_app(settings: Settings | None = None, *, node: Node | None = None,
               run_courier: bool | None = None, own_process: bool = False) -> FastAPI:
    """Build the app; pass ``node`` to share one (tests, two nodes in one process).

    The courier runs while the app is up unless ``run_courier`` is false,
    ``CMAA_COURIER_INTERVAL_SECONDS`` is 0 or ``CMAA_COURIER`` is ``external``:
    as a child process when ``CMAA_COURIER`` is ``process`` and ``own_process``
    (``cmaa serve`` and its workers: the app is the process's whole job), else as a
    thread (an app embedded in another process, the demo). In a process of its own the
    heap built at start-up is also left out of the garbage collector's full collections
    (:func:`service.ops.heap.freeze_startup_heap`).
    """
    settings = settings or (node.settings if node else Settings())
    owns_node = node is None
    if run_courier is None:
        run_courier = settings.courier_interval_seconds > 0

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # The worker threads that run sync endpoints and the inbox's verification and commit.
        # More of them contend for the interpreter lock: one is ~18 % faster than anyio's 40
        # (README, *Exchange performance*). Per event loop, so per served app.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.api_threads
        courier = sealer = None
        interval = settings.courier_interval_seconds or 0.5
        if run_courier and settings.courier == "process" and own_process:
            courier = CourierProcess(app.state.node.exchange, app.state.node.metrics, interval)
        elif run_courier and settings.courier != "external":
            courier = CourierThread(app.state.node.courier, interval)
        if courier is not None:
            app.state.courier = courier
            courier.start()
        if run_courier and settings.sealer_interval_seconds > 0:
            sealer = SealerThread(app.state.node.audit, settings.sealer_interval_seconds, app.state.node.metrics)
            app.state.sealer = sealer
            sealer.start()
        sweep = None
        if run_courier and settings.retention_sweep_seconds > 0:
            sweep = SweepThread(app.state.node.dpo, settings.retention_sweep_seconds)
            sweep.start()
        refresh = None
        if run_courier and settings.directory_refresh_seconds > 0:
            refresh = RefreshThread(app.state.node.refresher, settings.directory_refresh_seconds)
            refresh.start()
        if own_process:
            freeze_startup_heap()
        yield
        for periodic in (sweep, refresh):
            if periodic is not None:
                periodic.stop()
        # Shutdown (uvicorn has stopped accepting and drained in-flight requests): the
        # courier finishes the deliveries under way and hands back what it claimed.
        if courier is not None and not courier.stop(settings.shutdown_grace_seconds):
            log.warning("shutdown: a delivery was still under way; its lease expires and it is retried")
        if sealer is not None:
            sealer.stop()
        log.info("node stopped")
        if owns_node and getattr(app.state, "node", None) is not None:
            app.state.node.close()

    app = api_shell(lifespan)
    app.state.node = node or build_node(settings)
    problems.install(app)
    console.mount(app)  # the web console (service/console/, docs/console.md)
    app.add_middleware(HeadAsGet)
    app.add_middleware(OneDirectoryPerRequest)
    app.add_middleware(Idempotency, keys=IdempotencyKeys(app.state.node.store.recorder,
                                                         settings.idempotency_retention_hours * 3600),
                       gate=app.state.node.store.gate)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes,
                       explain=oversized_envelope_refusal(app.state.node))
    app.add_middleware(StoreDeadline, seconds=settings.store_wait_seconds)
    app.add_middleware(RequestObservability, metrics=app.state.node.metrics)
    return app
