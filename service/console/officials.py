"""Officials' pages: the cases list, a case with its timeline, making a request."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from fastapi import Depends, Request

from domain.case import REQUESTED, REQUESTING
from domain.case_states import (ACKNOWLEDGEMENT, CLOSURE, CONSULTATION, FINAL_REPLY, FORWARDING, INTERIM_REPLY, OWN,
                                POSTPONEMENT, REFUSAL, TABLE, WRITTEN_CONFIRMATION)
from domain.errors import DomainError
from service.console.forms import lines, rule_errors, validate, words
from service.console.web import Ctx, holding, redirect, render, router
from service.http.schemas import CaseRequestCreate, ReceivedRequestCreate
from service.http.views import case_public, event_public

routes = router()
READER_PAGE, READER_FORM = holding("official", "auditor")  # reads of cases, as the API's Reader
OFFICIAL_PAGE, OFFICIAL_FORM = holding("official")
KINDS = ("information", "lawful_movement_check", "special_surveillance", "enquiry", "service_of_documents",
         "recovery_of_claim")
STATUSES = ("requested", "received", "acknowledged", "forwarded", "postponed", "in_consultation", "replying",
            "replied", "refused", "provided", "information_received", "closed")
SIDES = ("requesting", "requested", "providing", "receiving")
FILTERS = ("side", "kind", "partner", "status", "agreement", "reference")
MAX_LISTED = 10_000  # beyond this, narrow the search (the list is read whole, then filtered)
PURPOSES = ("Working on the case", "Preparing a reply", "Checking a consent or disclosure",
            "Supervising the case", "Audit")


@routes.get("/cases")
def cases(request: Request, ctx: Ctx = Depends(READER_PAGE)):
    """Only what the list shows is read (reference, kind, partner, status, dates): no personal data."""
    query = {k: request.query_params.get(k, "").strip()[:80] for k in FILTERS}
    overdue = request.query_params.get("overdue") == "1"
    found, cursor = [], 0
    while len(found) < MAX_LISTED:  # every case of this administration, in pages as the API serves them
        batch, cursor = ctx.node.cases.list(ctx.who, after=cursor, limit=500)
        if not batch:
            break
        found += batch
    now = ctx.node.clock.now()
    rows = []
    for case in found:
        if any(query[k] and getattr(case, a) != query[k] for k, a in
               (("side", "side"), ("kind", "kind"), ("partner", "partner_administration"), ("status", "status"),
                ("agreement", "agreement"))):
            continue
        if query["reference"] and query["reference"].upper() not in case.reference.upper():
            continue
        if overdue and not case.confirmation_overdue(now):
            continue
        rows.append({"id": case.id, "reference": case.reference, "side": case.side, "kind": case.kind,
                     "partner": case.partner_administration, "status": case.status, "agreement": case.agreement,
                     "opened_at": case.opened_at, "channel": case.channel, "overdue": case.confirmation_overdue(now)})
    rows.reverse()  # newest first
    directory = ctx.node.directory.directory()
    return render(ctx, request, "cases.html", rows=rows, query=query, overdue=overdue, kinds=KINDS,
                  statuses=STATUSES, sides=SIDES, partners=sorted(directory.partners),
                  agreements=[p.id for p in ctx.node.agreements], total=len(found))


def _request_form(ctx: Ctx, request: Request, values: dict, errors: dict, status: int = 200, received: bool = False):
    """One form for a request made here and for one received outside the exchange (``received``)."""
    directory = ctx.node.directory.directory()
    profiles = list(ctx.node.agreements)
    return render(ctx, request, "request_new.html", status, values=values, errors=errors, kinds=KINDS,
                  partners=directory.partners, profiles=profiles, received=received)


@routes.get("/cases/new")
def new_request(request: Request, ctx: Ctx = Depends(OFFICIAL_PAGE)):
    return _request_form(ctx, request, {"channel": "written", "language": "en", "target_kind": "legal"}, {})


def request_body(ctx: Ctx) -> dict[str, Any]:
    target: dict[str, Any] = {}
    if ctx.field("target_name"):
        target = {"kind": ctx.field("target_kind") or "legal", "name": ctx.field("target_name")}
        if ctx.field("target_date_of_birth"):
            target["date_of_birth"] = ctx.field("target_date_of_birth")
        if ctx.field("target_id_value"):
            target["identifiers"] = [{"scheme": ctx.field("target_id_scheme") or "other",
                                      "value": ctx.field("target_id_value")}]
    content = {"action_requested": ctx.field("action_requested"), "reason": ctx.field("reason"),
               "case_description": ctx.field("case_description"), "laws_involved": lines(ctx.field("laws_involved")),
               "targets": [target] if target else []}
    if ctx.field("reciprocity_notice"):
        content["reciprocity_notice"] = ctx.field("reciprocity_notice")
    return {"agreement": ctx.field("agreement"), "partner_administration": ctx.field("partner_administration"),
            "kind": ctx.field("kind"), "language": ctx.field("language"),
            "addressed_to": words(ctx.field("addressed_to")), "content": content}


@routes.post("/cases/new")
def make_request(request: Request, ctx: Ctx = Depends(OFFICIAL_FORM)):
    """The API's schema and the same CaseService call as ``POST /cases`` (or ``/cases/oral``)."""
    body, errors = validate(CaseRequestCreate, request_body(ctx))
    if body is not None:
        try:
            case = ctx.node.cases.request_assistance(ctx.who, body.model_dump(mode="json"),
                                                     oral=ctx.field("channel") == "oral")
        except DomainError as error:
            errors = rule_errors(error)
        else:
            ctx.session.purposes[str(case.id)] = "Made the request"
            return redirect(f"/cases/{case.id}", f"Request {case.reference} made; it is on its way to "
                            f"{case.partner_administration}.", ctx)
    values = {k: v for k, v in ctx.form.items() if k != "csrf"}
    return _request_form(ctx, request, values, errors, 422)


@routes.get("/cases/received")
def new_received_request(request: Request, ctx: Ctx = Depends(OFFICIAL_PAGE)):
    return _request_form(ctx, request, {"channel": "written", "language": "en", "target_kind": "legal"}, {},
                         received=True)


@routes.post("/cases/received")
def record_received_request(request: Request, ctx: Ctx = Depends(OFFICIAL_FORM)):
    """A partner's request that came by post, by phone or from a partner without a node: the API's schema
    and the same CaseService call as ``POST /cases/received``."""
    body, errors = validate(ReceivedRequestCreate, {**request_body(ctx), "channel": ctx.field("channel") or "written"})
    if body is not None:
        try:
            case = ctx.node.cases.record_received_request(ctx.who, body.model_dump(mode="json"))
        except DomainError as error:
            errors = rule_errors(error)
        else:
            ctx.session.purposes[str(case.id)] = "Recorded the request"
            return redirect(f"/cases/{case.id}", f"Request {case.reference} from {case.partner_administration} "
                            "recorded; acknowledge it when you have checked it.", ctx)
    values = {k: v for k, v in ctx.form.items() if k != "csrf"}
    return _request_form(ctx, request, values, errors, 422, received=True)


@routes.get("/cases/{case_id}")
def case_page(case_id: UUID, request: Request, ctx: Ctx = Depends(READER_PAGE)):
    purpose = ctx.session.purposes.get(str(case_id))
    if purpose is None:  # the purpose first: the read is recorded with it (as X-Purpose on the API)
        ctx.node.cases.get(ctx.who, case_id)  # exists and is ours, before asking why
        return render(ctx, request, "purpose.html", case_id=case_id, purposes=PURPOSES, errors={})
    case = ctx.node.cases.get(ctx.who, case_id)
    restricted = ctx.node.dpo.on_read(ctx.who, case, "read case (console)", purpose)
    view = case_public(case, ctx.node.clock.now(), restricted)
    events = [event_public(e, restricted) for e in ctx.node.cases.history(ctx.who, case_id)]
    deliveries = [{**row, "refusal": json.loads(row["rejection"]) if row.get("rejection") else None}
                  for row in ctx.node.store.exchange.for_case(str(case_id))]
    profile = ctx.node.agreements.get(case.agreement)
    return render(ctx, request, "case.html", case=view, events=events, deliveries=deliveries, purpose=purpose,
                  restricted=restricted, profile=profile, actions=_actions(case, ctx),
                  grounds=sorted(profile.raw["refusal_grounds"]))


CONSOLE_STEPS = {ACKNOWLEDGEMENT: "acknowledge", REFUSAL: "refuse", FINAL_REPLY: "reply", INTERIM_REPLY: "reply",
                 POSTPONEMENT: "postpone", FORWARDING: "forward", CONSULTATION: "consult", CLOSURE: "close",
                 WRITTEN_CONFIRMATION: "confirm"}


def _actions(case, ctx: Ctx) -> set[str]:
    if "official" not in ctx.who.roles:
        return set()
    status, side = case.status, case.side
    can: set[str] = set()
    # The steps the case's state table (domain/case_states.py) allows this node's officials now.
    can |= {action for step, action in CONSOLE_STEPS.items()
            if step in TABLE[side] and TABLE[side][step].by == OWN and status in TABLE[side][step].moves}
    if "confirm" in can and (not case.is_oral or case.confirmed_in_writing_at is not None):
        can.discard("confirm")  # JP-NO Art. 11(3): an oral request, confirmed once
    if side == REQUESTED:
        if any(c["status"] == "requested" for c in case.consents.values()):
            can.add("answer_consent")
    if side == REQUESTING and case.items:
        can |= {"consent", "notice", "disclose"}
    return can


@routes.post("/cases/{case_id}/purpose")
def give_purpose(case_id: UUID, request: Request, ctx: Ctx = Depends(READER_FORM)):
    purpose = ctx.field("purpose_other") or ctx.field("purpose")
    if len(purpose) < 3 or len(purpose) > 200:
        return render(ctx, request, "purpose.html", 422, case_id=case_id, purposes=PURPOSES,
                      errors={"purpose": "Say why you open this case (3 to 200 characters)"})
    ctx.node.cases.get(ctx.who, case_id)
    ctx.session.purposes[str(case_id)] = purpose
    return redirect(f"/cases/{case_id}")


