"""Auditors' pages: log and witnessing status, a case replayed as of a date, the log verified against a
checkpoint the auditor holds (the CLI's own verifier), bundles for offline ``cmaa audit verify``."""

from __future__ import annotations

import json
import logging
import queue
import threading
from datetime import UTC, datetime
from uuid import UUID

from fastapi import Depends, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from adapters.bundle import export_bundle, verify_bundle
from adapters.keystore import public_jwk
from domain.errors import InvalidInput, NotFound
from service.console.charts import log_growth
from service.console.web import PREFIX, Ctx, holding, render, router, templates
from service.http.views import case_public, event_public

log = logging.getLogger("cmaa.console")
routes = router()
PAGE, FORM = holding("auditor")
MAX_CHECKPOINT_BYTES = 64 * 1024


def _status(ctx: Ctx) -> dict:
    log = ctx.node.audit.log
    directory = ctx.node.directory.directory()
    partners = []
    for code, partner in sorted(directory.partners.items()):
        held = log.held_from(code)
        partners.append({"code": code, "name": partner.get("name"), "alarm": partner.get("alarm"),
                         "held_size": held[0] if held else None, "held_root": held[1].hex() if held else None})
    cosigned: dict[str, int] = {}
    for c in log.cosignatures():
        cosigned[c["witness"]] = max(cosigned.get(c["witness"], 0), c["tree_size"])
    latest = log.latest_checkpoint()
    return {"log_status": ctx.node.audit.status(), "growth_chart": log_growth(log.growth()), "latest": latest, "partners": partners, "cosigned": cosigned}


@routes.get("/audit")
def audit_home(request: Request, ctx: Ctx = Depends(PAGE)):
    return render(ctx, request, "audit.html", **_status(ctx), errors={})


def _case_id(ctx: Ctx, text: str) -> UUID:
    """A case id, or a reference looked up among this administration's cases."""
    try:
        return UUID(text)
    except ValueError:
        pass
    found, _ = ctx.node.cases.list(ctx.who, after=0, limit=10_000)
    for case in found:
        if case.reference.upper() == text.upper():
            return case.id
    raise NotFound(f"no case with the reference or id {text!r}", field="case")


@routes.post("/audit/replay")
def replay(request: Request, ctx: Ctx = Depends(FORM)):
    """``GET /audit/cases/{id}/replay``'s call, the purpose in the form rather than the URL."""
    purpose = ctx.field("purpose")
    if not 3 <= len(purpose) <= 500:
        raise InvalidInput("say why you replay the case (3 to 500 characters)", field="purpose")
    as_of = None
    if ctx.field("as_of"):
        try:
            as_of = datetime.fromisoformat(ctx.field("as_of"))
        except ValueError:
            raise InvalidInput("a date and time such as 2026-11-22T10:00", field="as_of") from None
        as_of = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    case_id = _case_id(ctx, ctx.field("case"))
    case, events, found = ctx.node.audit.replay(ctx.who, case_id, as_of, purpose)
    restricted = ctx.node.dpo.on_read(ctx.who, case, "audit replay (console)", purpose)
    return render(ctx, request, "replay.html", case=case_public(case, as_of or ctx.node.clock.now(), restricted),
                  events=[event_public(e, restricted) for e in events], findings=found, as_of=as_of)


def _bundle(ctx: Ctx, case_id: UUID | None = None, since=None, until=None) -> dict:
    node = ctx.node
    node.audit.seal_and_checkpoint()  # as `cmaa audit export`: everything stored so far is in the bundle
    latest = node.audit.log.latest_checkpoint()
    if latest is None or latest.size < node.audit.log.size():  # a new checkpoint only when the log grew
        node.audit.checkpoint()
    partners = node.directory.directory().partners
    witness_keys = {code: p["directory"]["node_key"] for code, p in partners.items() if p.get("directory")}
    return export_bundle(node.store, node.audit.log, public_jwk(node.exchange.keystore.node_signing_key()),
                         case_id, witness_keys, since, until)


@routes.post("/audit/verify")
async def verify_upload(request: Request, ctx: Ctx = Depends(FORM)):
    note = ctx.field("checkpoint")
    upload = ctx.form.get("checkpoint_file")
    if not note and upload is not None and hasattr(upload, "read"):
        note = (await upload.read(MAX_CHECKPOINT_BYTES + 1)).decode("utf-8", "replace")
    if not note.strip():
        return render(ctx, request, "audit.html", 422, **_status(ctx),
                      errors={"checkpoint": "Paste the signed checkpoint you hold, or choose its file"})
    if len(note) > MAX_CHECKPOINT_BYTES:
        raise InvalidInput("a checkpoint note is at most 64 KiB", field="checkpoint")
    return StreamingResponse(_verification(ctx, request, note.replace("\r\n", "\n")), media_type="text/html")


async def _verification(ctx: Ctx, request: Request, note: str):
    """The page as the check goes: its head at once, a line per tenth of the events re-hashed, then the
    verdict (a progress indicator with no script). The work runs on a thread; this only relays it."""
    page = templates.get_template("verify.html").render(request=request, who=ctx.who, csrf=ctx.session.csrf,
                                                        flash=[], prefix=PREFIX)
    head, rest = page.split("<!--PROGRESS-->", 1)
    middle, tail = rest.split("<!--VERDICT-->", 1)
    yield head
    updates: queue.Queue = queue.Queue()
    threading.Thread(target=_verify_in_background, args=(ctx, note, updates), daemon=True).start()
    done = 0
    while True:
        kind, *value = await run_in_threadpool(updates.get)
        if kind == "total":
            total, step = value[0], max(1, value[0] // 10)
            yield f"<li>The node exported {total} event(s); re-hashing them…</li>"
        elif kind == "done":
            done += 1
            if done % step == 0 or done == total:
                yield f"<li>{done} of {total} event(s) re-hashed</li>"
        else:
            break
    yield middle
    if kind == "verdict":
        verdict, checkpoint = value
        yield templates.get_template("verdict.html").render(verdict=verdict, bundle_checkpoint=checkpoint,
                                                            prefix=PREFIX)
    else:
        yield ('<div class="verdict-bad" role="alert"><h2 id="verdict">Could not verify</h2><p>The node could not '
               "export or check its log; nothing was changed. The operator finds the cause in the node's log.</p>"
               "</div>")
    yield tail


def _verify_in_background(ctx: Ctx, note: str, updates: queue.Queue) -> None:
    try:
        bundle = _bundle(ctx)
        updates.put(("total", len(bundle["events"])))
        verdict = verify_bundle(bundle, (note,), progress=lambda n: updates.put(("done", n)))
        updates.put(("verdict", verdict, bundle["checkpoint"]["note"]))
    except Exception:  # the page says it could not verify; the log keeps the cause
        log.exception("console: the log could not be exported or verified")
        updates.put(("error",))


@routes.post("/audit/bundle")
def bundle_download(request: Request, ctx: Ctx = Depends(FORM)):
    case_id = _case_id(ctx, ctx.field("case")) if ctx.field("case") else None

    def when(name: str):
        if not ctx.field(name):
            return None
        try:
            value = datetime.fromisoformat(ctx.field(name))
        except ValueError:
            raise InvalidInput("a date and time such as 2026-11-22T10:00", field=name) from None
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    bundle = _bundle(ctx, case_id, when("since"), when("until"))
    name = f"cmaa-bundle-{ctx.who.administration}-{ctx.node.clock.now().strftime('%Y%m%dT%H%M%S')}.json"
    return Response(json.dumps(bundle), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
