"""Exchange: the inbox partner nodes deliver envelopes to, and the node's directory."""

from __future__ import annotations

import logging
from typing import Annotated

import anyio

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, Field

from adapters import jose
from service.http.routing import NodeRouter, started
from service.http.deps import NodeDep
from service.http.roles import Operator
from service.exchange.rejection import EnvelopeRejected
from service.http.problems import PROBLEM_JSON, problem_body
from service.http.ratelimit import RateLimited
from service.http.schemas import AdminCode, Strict

router = NodeRouter(prefix="/exchange", tags=["exchange"])
log = logging.getLogger("cmaa.inbox")


class ReceiptPublic(BaseModel):
    receipt: str


class DirectoryImport(Strict):
    directory: str
    fingerprint: str


class OutboxEntryPublic(BaseModel):
    envelope_id: str
    case_id: str
    partner: str
    kind: str
    status: str
    attempts: int
    last_error: str | None


class OutboxPublic(BaseModel):
    data: list[OutboxEntryPublic]
    count: int


@router.post("/inbox", response_model=ReceiptPublic, responses={
    400: {"description": "malformed envelope (problem+json with signed_rejection)"},
    403: {"description": "not authentic or not addressed here"},
    409: {"description": "stale, id reused for other content, or the case changed concurrently (retry)"},
    429: {"description": "the sending partner is over its rate limit; retry after `Retry-After` seconds"},
    422: {"description": "the agreement or the kind does not allow it"}},
    openapi_extra={"requestBody": {"required": True, "content": {"application/jose+json": {
        "schema": {"type": "object", "description": "JWE JSON serialization; see docs/envelope-format.md"}}}}})
async def deliver_envelope(request: Request, node: NodeDep):
    """Deliver one envelope. Authenticated by its signature, not by a bearer token: the
    node verifies it in the numbered steps of docs/envelope-format.md before storing
    anything, applies it once, and answers with a receipt signed by the node key over
    the envelope's SHA-256. An applied envelope sent again (resent or re-sealed) gets the same receipt."""
    raw = await request.body()
    try:
        # Verification and the store commit block: off the event loop, so envelopes are applied
        # side by side and the loop keeps answering (health checks, consistency proofs).
        receipt = await run_in_threadpool(started, node.exchange.receive, raw)
    except EnvelopeRejected as rejection:
        return JSONResponse(_refusal(node, rejection, jose.sha256_hex(raw), request.url.path), status_code=rejection.status,
                            media_type=PROBLEM_JSON)
    _accepted(node, receipt)
    return ReceiptPublic(receipt=receipt)


MAX_BATCH = 64


class InboxBatch(Strict):
    envelopes: list[str] = Field(min_length=1, max_length=MAX_BATCH, description=(
        "Each item the exact text of one envelope, as it would be the body of `POST /exchange/inbox` (a JWE "
        "JSON serialization); its receipt's `envelope_sha256` is the SHA-256 of the item's UTF-8 bytes. "
        f"At most {MAX_BATCH}; the whole body at most `CMAA_MAX_BODY_BYTES`."))


class BatchResult(BaseModel):
    status: int = Field(description="what `POST /exchange/inbox` would have answered for this envelope alone: "
                        "200, or the status of its problem")
    envelope_sha256: str
    receipt: str | None = Field(None, description="when `status` is 200: the signed receipt")
    problem: dict | None = Field(None, description="otherwise: the problem+json `POST /exchange/inbox` would have "
                                 "answered, with `signed_rejection` for a refusal at a numbered step, and "
                                 "`retry_after` (seconds) for 429")


class BatchResults(BaseModel):
    results: list[BatchResult] = Field(description="one per envelope, in the request's order")


@router.post("/inbox/batch", response_model=BatchResults, responses={
    413: {"description": "the whole body is over `CMAA_MAX_BODY_BYTES`: send the envelopes in smaller batches "
          "or one by one"},
    422: {"description": "not a batch: no envelopes, more than the maximum, or an item that is not a string"}})
async def deliver_envelopes(body: InboxBatch, request: Request, node: NodeDep) -> BatchResults:
    """Deliver several envelopes in one request (docs/envelope-format.md §3.5). Each is verified, applied and
    answered exactly as by `POST /exchange/inbox` — its own receipt, or its own problem and signed rejection — in
    the request's order; the ones applied are stored in one transaction. One envelope's refusal does not affect
    the others. A sender that gets 404 or 405 here (a node without batches) sends one envelope per request."""
    raws = [envelope.encode() for envelope in body.envelopes]
    answers = await run_in_threadpool(started, node.exchange.receive_many, raws)
    results = []
    for raw, answer in zip(raws, answers):
        digest = jose.sha256_hex(raw)
        if isinstance(answer, str):
            _accepted(node, answer)
            results.append(BatchResult(status=200, envelope_sha256=digest, receipt=answer))
        elif isinstance(answer, RateLimited):
            results.append(BatchResult(status=429, envelope_sha256=digest, problem=problem_body(
                429, "rate-limited", "Too many requests", str(answer), request.url.path, limit=answer.limit,
                rate=answer.rate, retry_after=answer.retry_after)))
        else:
            results.append(BatchResult(status=answer.status, envelope_sha256=digest,
                                       problem=_refusal(node, answer, digest, request.url.path)))
    return BatchResults(results=results)


def _accepted(node, receipt: str) -> None:
    node.metrics.inbound.labels("accepted").inc()
    _, claims = jose.unverified_header_and_payload(receipt)  # our own receipt, just signed
    log.info("envelope accepted; receipt signed", extra={"envelope_id": claims.get("envelope_id"),
                                                         "sender": claims.get("sender")})


def _refusal(node, rejection: EnvelopeRejected, digest: str, instance: str) -> dict:
    """The problem for a refused envelope, with the rejection signed over the envelope's SHA-256."""
    node.metrics.inbound.labels("rejected").inc()
    node.metrics.inbound_rejections.labels(str(rejection.step), rejection.code).inc()
    log.info("envelope rejected", extra={"envelope_id": rejection.envelope_id, "step": rejection.step,
                                         "code": rejection.code})
    signed = node.exchange.sign_rejection(rejection, digest)
    return problem_body(rejection.status, f"envelope-{rejection.code}", "Envelope rejected", str(rejection),
                        instance, step=rejection.step, code=rejection.code, envelope_id=rejection.envelope_id,
                        article=rejection.article, signed_rejection=signed)


def oversized_envelope_refusal(node):
    """For ``BodySizeLimit``: an envelope too large to read is refused at step 1 like any other,
    with a signed rejection over the SHA-256 of the bytes read before the limit (of no bytes when
    the declared ``Content-Length`` was over it), so the sender stores it and stops retrying."""
    def explain(path: str, digest: str, declared: int | None, limit: int) -> dict | None:
        if path != f"{router.prefix}/inbox":
            return None
        size = f"declares {declared} bytes" if declared is not None else "is longer"
        rejection = EnvelopeRejected(1, "too-large", f"the envelope {size}; this node reads at most {limit} "
                                     "(CMAA_MAX_BODY_BYTES)")
        node.metrics.inbound.labels("rejected").inc()
        node.metrics.inbound_rejections.labels("1", rejection.code).inc()
        return {"step": 1, "code": rejection.code, "detail": str(rejection),
                "signed_rejection": node.exchange.sign_rejection(rejection, digest)}
    return explain


@router.get("/directory", response_class=PlainTextResponse)
async def read_signed_directory(request: Request) -> str:
    """This node's directory (officials and public keys), a JWS signed by the node key.
    Public; partners verify it against the node-key fingerprint they pinned out of band."""
    # Served by a worker of its own, not the API's (CMAA_API_THREADS, default 1): a partner fetches it
    # while refreshing on an unknown sender, from inside its own inbox request — perhaps while this node's
    # worker does the same towards it. Sharing the one worker, both would wait out their fetch timeouts.
    state = request.app.state
    if getattr(state, "directory_limiter", None) is None:
        state.directory_limiter = anyio.CapacityLimiter(1)
    return await anyio.to_thread.run_sync(state.node.exchange.export_directory, limiter=state.directory_limiter)


@router.put("/partners/{administration}/directory")
def import_partner_directory(administration: AdminCode, body: DirectoryImport, node: NodeDep,
                             who: Operator) -> dict:
    """Import a partner's signed directory, checked against the pinned fingerprint (operator)."""
    who.require("operator")
    document = node.exchange.import_directory(body.directory, body.fingerprint, by=who.official_id,
                                              expected_administration=administration)
    return {"imported": administration, "officials": sorted(document["officials"])}


class DirectoryRefreshPublic(BaseModel):
    """One attempt to fetch a partner's signed directory from its endpoint, and what came of it."""

    attempted_at: str
    trigger: str = Field(description="scheduled, unknown-sender (the inbox met a signing key it did not know) "
                         "or operator")
    outcome: str = Field(description="imported (a newer directory is held now), unchanged, failed (not fetched: "
                         "unreachable, HTTP error, no endpoint) or refused (another node key, a bad signature, an "
                         "older directory than the one held: nothing changed)")
    detail: str | None
    issued_at: str | None = Field(description="issued_at of the last directory the partner served that verified")
    succeeded_at: str | None = Field(description="when a refresh last succeeded (imported or unchanged)")
    refused_at: str | None = Field(description="when the partner last served a directory that was refused")
    refused_detail: str | None


class HeldDirectoryPublic(BaseModel):
    issued_at: str
    digest: str
    fingerprint: str


class PartnerDirectoryPublic(BaseModel):
    partner: str
    endpoint: str | None
    held: HeldDirectoryPublic | None = Field(description="the partner directory this node holds, if imported")
    last_refresh: DirectoryRefreshPublic | None
    unknown_officials: list[str] = Field(description="our officials the partner does not know yet, on the "
                                         "evidence: their latest envelope to it was rejected unknown-sender and "
                                         "none of theirs made since was delivered")


class PartnerDirectoriesPublic(BaseModel):
    data: list[PartnerDirectoryPublic]
    count: int


@router.get("/partners/directories", response_model=PartnerDirectoriesPublic)
def read_partner_directories(node: NodeDep, who: Operator) -> PartnerDirectoriesPublic:
    """Per partner: the directory held, its last refresh from the partner's endpoint (time, trigger, outcome,
    the last refusal), and which of our officials it does not know yet (operator)."""
    who.require("operator")
    found = node.refresher.status()
    return PartnerDirectoriesPublic(data=[PartnerDirectoryPublic(**p) for p in found], count=len(found))


@router.post("/partners/{administration}/directory/refresh", response_model=DirectoryRefreshPublic)
def refresh_partner_directory(administration: AdminCode, node: NodeDep, who: Operator) -> DirectoryRefreshPublic:
    """Fetch the partner's signed directory from its endpoint now and hold it if it verifies against the pinned
    fingerprint and is newer than the one held (operator). The outcome is the answer, also when it failed."""
    who.require("operator")
    node.directory.directory().partner(administration)  # 404 for an administration that is not a partner
    row = node.refresher.refresh(administration, "operator")
    record = node.refresher.records.all().get(administration, row)
    return DirectoryRefreshPublic(**{k: record.get(k) for k in DirectoryRefreshPublic.model_fields})


class AlarmClearance(Strict):
    resolution: Annotated[str, Field(min_length=3, max_length=5000)]


@router.post("/partners/{administration}/alarm/clearance")
def clear_partner_alarm(administration: AdminCode, body: AlarmClearance, node: NodeDep,
                        who: Operator) -> dict:
    """Clear a partner history alarm after investigation (operator); envelopes from the partner
    are accepted again and its next checkpoint starts a new witnessed history."""
    who.require("operator")
    node.exchange.witness.clear(administration, body.resolution, who.official_id)
    return {"cleared": administration}


@router.get("/outbox", response_model=OutboxPublic)
def read_outbox(node: NodeDep, who: Operator) -> OutboxPublic:
    """Envelopes not yet delivered, with their attempts and last error (operator)."""
    who.require("operator")
    rows = node.store.exchange.pending()
    return OutboxPublic(data=[OutboxEntryPublic(**{k: r[k] for k in OutboxEntryPublic.model_fields}) for r in rows],
                        count=len(rows))
