"""The DPO's pages: find a person (identifiers only ever in POST bodies), the printable access report,
rectification, restriction and its lifting, erasure after an explicit confirmation, the retention
sweep, the activity log. Every call is ``DpoService``'s, as ``/dpo/...`` makes it."""

from __future__ import annotations

from fastapi import Depends, Request

from service.console.forms import validate
from service.console.web import Ctx, redirect, render, router, holding
from service.http.schemas import Erasure, Rectification, RestrictionCreate, SubjectQuery

routes = router()
PAGE, FORM = holding("dpo")
SUBJECT_FIELDS = ("subject_name", "subject_date_of_birth", "subject_id_scheme", "subject_id_value")


def _subject(ctx: Ctx) -> dict:
    subject: dict = {"name": ctx.field("subject_name")}
    if ctx.field("subject_date_of_birth"):
        subject["date_of_birth"] = ctx.field("subject_date_of_birth")
    if ctx.field("subject_id_value"):
        subject["identifiers"] = [{"scheme": ctx.field("subject_id_scheme") or "other",
                                   "value": ctx.field("subject_id_value")}]
    return subject


def _carried(ctx: Ctx) -> list[tuple[str, str]]:
    """The search, carried from form to form in hidden fields (never in a URL)."""
    return [(name, ctx.field(name)) for name in SUBJECT_FIELDS if ctx.field(name)]


@routes.get("/dpo")
def dpo_home(request: Request, ctx: Ctx = Depends(PAGE)):
    return render(ctx, request, "dpo.html", errors={}, values={}, last_sweep=ctx.node.dpo.last_sweep)


@routes.post("/dpo/report")
def access_report(request: Request, ctx: Ctx = Depends(FORM)):
    query, errors = validate(SubjectQuery, {"subject": _subject(ctx)})
    if query is None or not (ctx.field("subject_id_value") or ctx.field("subject_name")):
        errors = errors or {"subject_name": "Enter a name with a date of birth, or an identifier"}
        return render(ctx, request, "dpo.html", 422, errors=errors, values=ctx.form,
                      last_sweep=ctx.node.dpo.last_sweep)
    report = ctx.node.dpo.access_report(ctx.who, query.subject.model_dump(mode="json"),
                                        ctx.field("purpose") or "subject access request")
    return render(ctx, request, "access_report.html", report=report, carried=_carried(ctx),
                  administration=ctx.node.directory.directory().name)


@routes.post("/dpo/restrict")
def restrict(ctx: Ctx = Depends(FORM)):
    body = RestrictionCreate.model_validate({"subject": _subject(ctx), "reason": ctx.field("reason")})
    done = ctx.node.dpo.restrict(ctx.who, body.subject.model_dump(mode="json"), body.reason, "restriction")
    return redirect("/dpo", f"Processing restricted for subject {done['subject_id']} since {done['since']}.", ctx)


@routes.post("/dpo/lift")
def lift(ctx: Ctx = Depends(FORM)):
    subject_id = ctx.field("subject_id")
    ctx.node.dpo.lift(ctx.who, subject_id, "restriction lifted")
    return redirect("/dpo", f"Restriction lifted for subject {subject_id}.", ctx)


@routes.post("/dpo/rectify")
def rectify(ctx: Ctx = Depends(FORM)):
    corrected = {"kind": ctx.field("corrected_kind") or "legal", "name": ctx.field("corrected_name")}
    if ctx.field("corrected_id_value"):
        corrected["identifiers"] = [{"scheme": ctx.field("corrected_id_scheme") or "other",
                                     "value": ctx.field("corrected_id_value")}]
    body = Rectification.model_validate({"subject": _subject(ctx), "case_id": ctx.field("case_id"),
                                         "corrected": corrected, "reason": ctx.field("reason")})
    case = ctx.node.dpo.rectify(ctx.who, body.subject.model_dump(mode="json"), body.case_id,
                                body.corrected.model_dump(mode="json"), body.reason, "rectification")
    return redirect("/dpo", f"Rectified in case {case.reference}; the partner is told.", ctx)


@routes.post("/dpo/erase")
def erase(request: Request, ctx: Ctx = Depends(FORM)):
    """Two steps: the consequences and an explicit confirmation, then the keys are destroyed."""
    body = Erasure.model_validate({"subject": _subject(ctx), "rule": ctx.field("rule") or "-"})
    if ctx.field("confirmed") != "yes":
        return render(ctx, request, "erase_confirm.html", carried=_carried(ctx), rule=ctx.field("rule"),
                      errors={})
    if ctx.field("understood") != "yes" or not ctx.field("rule"):
        errors = {}
        if not ctx.field("rule"):
            errors["rule"] = "Name the rule the erasure rests on (JP-NO Art. 9(2))"
        if ctx.field("understood") != "yes":
            errors["understood"] = "Confirm that you understand the erasure cannot be undone"
        return render(ctx, request, "erase_confirm.html", 422, carried=_carried(ctx), rule=ctx.field("rule"),
                      errors=errors)
    done = ctx.node.dpo.erase(ctx.who, body.subject.model_dump(mode="json"), body.rule, "erasure")
    return redirect("/dpo", f"Erased: {done['keys_erased']} key(s) destroyed in {len(done['cases'])} case(s) "
                    f"under {done['rule']}. The events and the audit chain stay and still verify.", ctx)


@routes.post("/dpo/sweep")
def sweep(ctx: Ctx = Depends(FORM)):
    """``POST /dpo/retention-sweeps``' calls."""
    done = ctx.node.dpo.sweep(by=ctx.who.as_actor)
    ctx.node.dpo._log(ctx.who, "retention sweep", "retention (JP-NO Art. 9(2))")
    return redirect("/dpo", f"Retention sweep done: {done['keys_erased']} key(s) erased in "
                    f"{len(done['cases'])} case(s).", ctx)


@routes.get("/dpo/activity")
def activity(request: Request, ctx: Ctx = Depends(PAGE)):
    """Filters are an official's id and a pseudonymous subject id: no personal data in the URL."""
    official = request.query_params.get("official", "").strip()[:64] or None
    subject_id = request.query_params.get("subject_id", "").strip()[:64] or None
    action = request.query_params.get("action", "").strip()[:64]
    rows = ctx.node.dpo.activity(ctx.who, subject_id=subject_id, official=official, limit=1000)
    if action:
        rows = [r for r in rows if action.lower() in str(r.get("action", "")).lower()]
    return render(ctx, request, "activity.html", rows=rows, official=official or "", subject_id=subject_id or "",
                  action=action)

