"""Operators' pages: readiness, partners and their alarms, the outbox, officials and credentials.
The same calls as ``cmaa officials|credentials|keys|partners`` and ``/readyz``, behind the operator role."""

from __future__ import annotations

import time
from datetime import timedelta

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from domain.errors import DomainError, InvalidInput
from service.console.charts import outbox_bars
from service.console.forms import rule_errors, validate, words
from service.console.web import Ctx, redirect, render, router, holding
from service.http.routes.exchange import DirectoryImport
from service.http.routes.operations import readiness
from service.http.schemas import PartnerCreate

routes = router()
PAGE, FORM = holding("operator")
ROLES = ("official", "auditor", "dpo", "operator")
MAX_DIRECTORY_BYTES = 1_000_000  # a signed directory is a few kilobytes


async def _overview(ctx: Ctx, request: Request) -> dict:
    """The readiness checks as ``/readyz`` runs them (bounded, on their own threads), then the rest."""
    checks = await readiness(request)
    return {"checks": checks, **await run_in_threadpool(_figures, ctx)}


def _figures(ctx: Ctx) -> dict:
    directory = ctx.node.directory.directory()
    now = ctx.node.clock.now()
    partners = []
    refreshes = {r["partner"]: r for r in ctx.node.refresher.status()}
    for code, p in sorted(directory.partners.items()):
        imported = (p.get("directory") or {}).get("issued_at")
        partners.append({"code": code, "name": p.get("name"), "agreements": p.get("agreements", []),
                         "endpoint": p.get("endpoint"), "alarm": p.get("alarm"),
                         "directory_age": (now - imported) if imported else None,
                         "issued_at": imported, "refresh": refreshes[code]["last_refresh"],
                         "unknown_officials": refreshes[code]["unknown_officials"],
                         "officials": sorted(p.get("officials", {}))})
    outbox = ctx.node.store.exchange.by_partner()
    now_ms = time.time() * 1000
    for entry in outbox.values():
        entry["oldest_seconds"] = (int((now_ms - entry["oldest_pending"]) / 1000)
                                   if entry["oldest_pending"] else None)
    return {"partners": partners, "outbox": outbox, "outbox_chart": outbox_bars(outbox),
            "officials": sorted(directory.officials.items()), "roles": ROLES,
            "profiles": list(ctx.node.agreements)}


@routes.get("/operations")
async def operations(request: Request, ctx: Ctx = Depends(PAGE)):
    return render(ctx, request, "operations.html", **await _overview(ctx, request), issued=None)


def _placed(errors: dict[str, str], form: str) -> dict[str, str]:
    """The schema's or the rule's field, as the id of the control in ``form`` (``partner_name``, ``import_fingerprint``)."""
    return {(name if name.startswith(f"{form}_") else f"{form}_{name}"): message for name, message in errors.items()}


async def _form_again(ctx: Ctx, request: Request, errors: dict[str, str]):
    values = {k: v for k, v in ctx.form.items() if k not in ("csrf", "import_directory_file") and isinstance(v, (str, list))}
    return render(ctx, request, "operations.html", 422, **await _overview(ctx, request), issued=None,
                  errors=errors, values=values)


@routes.post("/operations/partners")
async def register_partner(request: Request, ctx: Ctx = Depends(FORM)):
    """``cmaa partners add`` / ``POST /directory/partners``: the API's schema, then the directory's rules."""
    body, errors = validate(PartnerCreate, {
        "administration": ctx.field("partner_administration"), "name": ctx.field("partner_name"),
        "agreements": ctx.many("partner_agreements"), "endpoint": ctx.field("partner_endpoint") or None,
        "languages": words(ctx.field("partner_languages"))})
    if body is not None:
        try:
            await run_in_threadpool(ctx.node.directory.register_partner, by=ctx.who.official_id, **body.model_dump())
        except DomainError as error:
            errors = rule_errors(error)
        else:
            return redirect("/operations", f"Partner {body.administration} registered under "
                            f"{', '.join(body.agreements)}; import its signed directory next.", ctx)
    return await _form_again(ctx, request, _placed(errors, "partner"))


@routes.post("/operations/partners/directory")
async def import_directory(request: Request, ctx: Ctx = Depends(FORM)):
    """``cmaa partners import-directory`` / ``PUT /exchange/partners/{administration}/directory``: pasted or
    uploaded, checked against the fingerprint pinned out of band, by the same service call."""
    token = ctx.field("import_directory")
    upload = ctx.form.get("import_directory_file")
    if not token and upload is not None and hasattr(upload, "read"):
        token = (await upload.read(MAX_DIRECTORY_BYTES + 1)).decode("utf-8", "replace").strip()
    body, errors = validate(DirectoryImport, {"directory": token, "fingerprint": ctx.field("import_fingerprint")})
    if body is not None and not body.directory:
        errors = {"directory": "Paste the partner's signed directory or choose its file"}
    elif body is not None and len(body.directory) > MAX_DIRECTORY_BYTES:
        errors = {"directory": "This file is larger than a signed directory can be"}
    elif body is not None:
        try:
            document = await run_in_threadpool(ctx.node.exchange.import_directory, body.directory, body.fingerprint,
                                               by=ctx.who.official_id,
                                               expected_administration=ctx.field("import_administration") or None)
        except DomainError as error:
            errors = rule_errors(error)
        else:
            officials = sorted(document["officials"])
            return redirect("/operations", f"Directory of {document['administration']} imported: "
                            f"{len(officials)} official(s) ({', '.join(officials)}).", ctx)
    return await _form_again(ctx, request, _placed(errors, "import"))


@routes.post("/operations/alarms/{administration}/clear")
def clear_alarm(administration: str, ctx: Ctx = Depends(FORM)):
    """``cmaa partners clear-alarm``: the partner's next checkpoint is witnessed afresh."""
    resolution = ctx.field("resolution")
    if len(resolution) < 3:
        raise InvalidInput("say how the alarm was resolved (what you checked with the partner)", field="resolution")
    ctx.node.exchange.witness.clear(administration, resolution, ctx.who.official_id)
    return redirect("/operations", f"History alarm for {administration} cleared.", ctx)


@routes.post("/operations/partners/{administration}/directory/refresh")
def refresh_directory(administration: str, ctx: Ctx = Depends(FORM)):
    """``cmaa partners refresh-directory``: the outcome is shown on the page, also when it failed."""
    ctx.node.directory.directory().partner(administration)
    row = ctx.node.refresher.refresh(administration, "operator")
    return redirect("/operations", f"Directory of {administration}: {row['outcome']} ({row['detail']}).", ctx)


@routes.post("/operations/officials")
def designate(ctx: Ctx = Depends(FORM)):
    roles = [r for r in ctx.many("roles") if r in ROLES]
    if not roles:
        raise InvalidInput("choose at least one role", field="roles")
    official_id = ctx.field("official_id")
    ctx.node.designate_official(by=ctx.who.official_id, official_id=official_id, name=ctx.field("name"),
                                email=ctx.field("email"), roles=roles)
    return redirect("/operations", f"Designated {official_id} ({', '.join(roles)}).", ctx)


@routes.post("/operations/officials/{official_id}/revoke")
def revoke(official_id: str, ctx: Ctx = Depends(FORM)):
    ctx.node.directory.revoke_official(by=ctx.who.official_id, official_id=official_id,
                                       reason=ctx.field("reason") or "revoked in the console")
    return redirect("/operations", f"Revoked {official_id}; their credentials stop working.", ctx)


@routes.post("/operations/officials/{official_id}/credential")
async def issue_credential(official_id: str, request: Request, ctx: Ctx = Depends(FORM)):
    """The credential is shown once, on this page (never stored, never logged, not cached)."""
    days = ctx.field("days")
    valid_for = timedelta(days=int(days)) if days.isdigit() and 0 < int(days) <= 3650 else None
    token = await run_in_threadpool(ctx.node.directory.issue_credential, by=ctx.who.official_id,
                                    official_id=official_id, valid_for=valid_for)
    return render(ctx, request, "operations.html", **await _overview(ctx, request), issued=(official_id, token))


@routes.post("/operations/credentials/revoke")
def revoke_credential(ctx: Ctx = Depends(FORM)):
    token_id = ctx.field("token_id")
    ctx.node.directory.revoke_credential(by=ctx.who.official_id, token_id=token_id,
                                         reason=ctx.field("reason") or "revoked in the console")
    return redirect("/operations", f"Credential {token_id} revoked.", ctx)


@routes.post("/operations/officials/{official_id}/keys")
def rotate_keys(official_id: str, ctx: Ctx = Depends(FORM)):
    kids = ctx.node.exchange.rotate_official_keys(official_id, ctx.who.official_id)
    return redirect("/operations", f"Keys of {official_id} rotated: {', '.join(kids)}.", ctx)

