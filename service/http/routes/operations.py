"""Operations: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from service.http.routing import NodeRouter
from service.http.deps import NodeDep
from service.http.roles import Operator
from service.http.problems import PROBLEM_JSON
from service.ops.readiness import BoundedChecks, store_probe

router = NodeRouter(tags=["operations"])


class Health(BaseModel):
    status: str


class Check(BaseModel):
    ok: bool
    detail: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, Check]


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process is alive and answering. Unauthenticated; says nothing about cases.
    Answered on the event loop: it never waits for a worker thread (``CMAA_API_THREADS``)."""
    return Health(status="ok")


async def readiness(request: Request) -> dict[str, dict[str, Any]]:
    """Every check on a thread of its own, bounded (``service/ops/readiness.py``)."""
    state = request.app.state
    if getattr(state, "readiness", None) is None:
        state.readiness = (BoundedChecks(), store_probe(state.node.store))
    checks, store = state.readiness
    return await checks.run(_probes(request, store))


def _probes(request: Request, store):
    node = request.app.state.node
    settings = node.settings

    def keys():
        node.exchange.keystore.node_signing_key()
        return True, f"node key {node.exchange.node_fingerprint()[:16]}… loaded"

    def sealer():
        status = node.audit.status()
        lag = status["unsealed_events"]
        bound = settings.ready_max_sealer_lag_events
        if lag > bound:
            return False, f"{lag} events not sealed (bound {bound}, CMAA_READY_MAX_SEALER_LAG_EVENTS)"
        thread = getattr(request.app.state, "sealer", None)
        if thread is not None:
            stale = max(30.0, 10 * settings.sealer_interval_seconds)
            since = time.monotonic() - (thread.last_ok or thread.started)
            if since > stale:
                return False, f"no successful sealer pass for {since:.0f} s"
        return True, f"{lag} events waiting to be sealed (bound {bound})"

    def outbox():
        due_since = node.store.exchange.oldest_due_ms()
        bound = settings.ready_max_outbox_overdue_seconds
        if due_since is None:
            return True, "no envelope overdue"
        overdue = max(0.0, time.time() - due_since / 1000)
        if overdue > bound:
            return False, (f"an envelope has been due for delivery for {overdue:.0f} s and no courier took it "
                           f"(bound {bound} s, CMAA_READY_MAX_OUTBOX_OVERDUE_SECONDS)")
        return True, f"oldest due envelope waiting {overdue:.0f} s"

    return {"store": store, "keys": keys, "sealer": sealer, "outbox": outbox}


@router.get("/readyz", response_model=Readiness, responses={
    503: {"description": "Not ready: the body says which check failed (problem+json with `checks`)",
          "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Readiness"}}}}})
async def readyz(request: Request):
    """Ready to serve: the store answers (and, for SQLite, can be written), the keys are loaded,
    the sealer keeps up and no envelope is stuck in the outbox. Unauthenticated; the body names
    the store and what is wrong. Answered within a second whatever the store does: each check
    is bounded by its own time limit and none waits for the API's worker threads."""
    checks = await readiness(request)
    if all(check["ok"] for check in checks.values()):
        return Readiness(status="ready", checks=checks)
    failing = ", ".join(name for name, check in checks.items() if not check["ok"])
    return JSONResponse({"type": "urn:cmaa:problem:not-ready", "title": "Not ready", "status": 503,
                         "detail": f"failing: {failing}", "instance": "/readyz", "checks": checks},
                        status_code=503, media_type=PROBLEM_JSON)


@router.get("/metrics", response_class=Response, responses={
    200: {"description": "Prometheus text exposition format",
          "content": {"text/plain; version=0.0.4": {"schema": {"type": "string"}}}}})
def metrics(node: NodeDep, who: Operator) -> Response:
    """Prometheus metrics (operator role; scrape with a bearer credential)."""
    who.require("operator")
    return Response(node.metrics.exposition(), media_type="text/plain; version=0.0.4; charset=utf-8")
