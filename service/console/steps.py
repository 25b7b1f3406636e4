"""An official's steps on a case: each form is checked on a check-your-answers page, then runs the
same service call and schema as the API's route for it (service/http/routes/cases.py, information.py)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import Depends, Request

from domain.disclosure import DisclosureRequest
from service.console.forms import lines, words
from service.console.web import PREFIX, Ctx, redirect, render, router, holding
from service.http.routes.information import (AdvanceNoticeCreate, ConsentDenial, ConsentGrant, ConsentRequestCreate,
                                             DisclosureCreate)
from service.http.schemas import Closure, Consultation, Forwarding, Postponement, Refusal, Reply, WrittenConfirmation

routes = router()
PAGE, FORM = holding("official")


def _check(ctx: Ctx, request: Request, case_id: UUID, verb: str, consequence: str, answers: list, button: str,
           warning: bool = False):
    """GOV.UK's check-your-answers: the form's values shown, re-posted with ``confirmed=yes``."""
    hidden = [(k, v) for k, v in ctx.form.items() if k not in ("csrf", "confirmed", "idempotency_key") and not isinstance(v, list)]
    hidden += [(k, item) for k, v in ctx.form.items() if isinstance(v, list) for item in v]
    return render(ctx, request, "check.html", verb=verb, consequence=consequence, answers=answers, button=button,
                  warning=warning, hidden=hidden, action=str(request.url.path),
                  back=f"{PREFIX}/cases/{case_id}#actions")


def _confirmed(ctx: Ctx) -> bool:
    return ctx.field("confirmed") == "yes"


def _done(ctx: Ctx, case_id: UUID, message: str):
    return redirect(f"/cases/{case_id}", message, ctx)


def _step(ctx: Ctx, request: Request, case_id: UUID, check: tuple, act, done: str):
    """A step in two posts: Check your answers (``check``: what ``_check`` shows), then, confirmed, ``act``
    and back to the case with ``done``."""
    if not _confirmed(ctx):
        return _check(ctx, request, case_id, *check)
    act()
    return _done(ctx, case_id, done)


@routes.post("/cases/{case_id}/deliveries/{envelope_id}/resend")
def resend(case_id: UUID, envelope_id: str, ctx: Ctx = Depends(FORM)):
    """Once the cause of the partner's refusal is fixed: the same envelope, sealed afresh (POST …/resend)."""
    case = ctx.node.cases.resend(ctx.who, case_id, envelope_id)
    return _done(ctx, case_id, f"Sent again; {case.partner_administration} will be asked once more.")


@routes.post("/cases/{case_id}/acknowledge")
def acknowledge(case_id: UUID, ctx: Ctx = Depends(FORM)):
    case = ctx.node.cases.acknowledge(ctx.who, case_id)
    return _done(ctx, case_id, f"Acknowledged; {case.partner_administration} is told.")


@routes.post("/cases/{case_id}/reply")
def reply(case_id: UUID, request: Request, ctx: Ctx = Depends(FORM)):
    restrictions: dict[str, Any] = {"use_conditions": lines(ctx.field("item_use_conditions"))}
    if words(ctx.field("item_purposes")):
        restrictions["purposes"] = words(ctx.field("item_purposes"))
    if ctx.field("item_onward"):
        restrictions["law_enforcement_onward"] = ctx.field("item_onward") == "yes"
    if ctx.field("item_retention_days"):
        restrictions["retention_days"] = ctx.field("item_retention_days")
    body = Reply.model_validate({
        "items": [{"title": ctx.field("item_title"), "content": ctx.field("item_content"),
                   "personal_data": ctx.field("item_personal_data") == "1", "restrictions": restrictions}],
        "final": ctx.field("interim") != "1", "partial_reasons": ctx.field("partial_reasons") or None})
    if not _confirmed(ctx):
        item = body.items[0]
        return _check(ctx, request, case_id, "send the reply", "The reply is signed and sent to the requesting "
                      "administration; it cannot be taken back.",
                      [("Item", item.title), ("Content", item.content), ("Restrictions", str(restrictions)),
                       ("Final", "yes" if body.final else "no, interim"), ("Partly because", body.partial_reasons)],
                      "Send the reply")
    ctx.node.cases.reply(ctx.who, case_id, items=[i.model_dump(mode="json") for i in body.items], final=body.final,
                         partial_reasons=body.partial_reasons, conditions=body.conditions)
    return _done(ctx, case_id, "Reply sent.")


@routes.post("/cases/{case_id}/refuse")
def refuse(case_id: UUID, request: Request, ctx: Ctx = Depends(FORM)):
    body = Refusal.model_validate({"grounds": ctx.many("grounds"), "reasons": ctx.field("refusal_reasons")})
    return _step(ctx, request, case_id, (
        "refuse", "The refusal and its reasons are sent to the requesting administration; it cannot be taken back.",
        [("Grounds", ", ".join(body.grounds)), ("Reasons", body.reasons)], "Refuse the request", True),
        lambda: ctx.node.cases.refuse(ctx.who, case_id, grounds=body.grounds, reasons=body.reasons),
        "Request refused; the reasons are sent.")


@routes.post("/cases/{case_id}/postpone")
def postpone(case_id: UUID, request: Request, ctx: Ctx = Depends(FORM)):
    body = Postponement.model_validate({"reasons": ctx.field("postpone_reasons"), "until": ctx.field("until") or None})
    return _step(ctx, request, case_id, (
        "postpone", "The requesting administration is told, with the reasons.",
        [("Reasons", body.reasons), ("Until", body.until)], "Postpone"),
        lambda: ctx.node.cases.postpone(ctx.who, case_id, reasons=body.reasons,
                                        until=body.until.isoformat() if body.until else None),
        "Postponed; the reasons are sent.")


@routes.post("/cases/{case_id}/consents/{consent_id}")
def answer_consent(case_id: UUID, consent_id: str, request: Request, ctx: Ctx = Depends(FORM)):
    index, grant = ctx.field("index"), ctx.field("answer") == "grant"
    if grant:
        body = ConsentGrant.model_validate({"conditions": lines(ctx.field(f"conditions-{index}")),
                                            "expires_on": ctx.field(f"expires-{index}") or None})
        answers = [("Answer", "grant"), ("Conditions", "; ".join(body.conditions)), ("Valid until", body.expires_on)]
    else:
        body = ConsentDenial.model_validate({"reasons": ctx.field(f"deny-reasons-{index}")})
        answers = [("Answer", "deny"), ("Reasons", body.reasons)]
    if not _confirmed(ctx):
        return _check(ctx, request, case_id, f"{'grant' if grant else 'deny'} consent {consent_id}",
                      "Your answer is signed and sent to the administration that asked.", answers,
                      "Grant consent" if grant else "Deny consent", not grant)
    if grant:
        ctx.node.consent.answer_consent(ctx.who, case_id, consent_id, granted=True, conditions=body.conditions,
                                        expires_on=body.expires_on.isoformat() if body.expires_on else None,
                                        reasons=None)
    else:
        ctx.node.consent.answer_consent(ctx.who, case_id, consent_id, granted=False, conditions=[],
                                        expires_on=None, reasons=body.reasons)
    return _done(ctx, case_id, f"Consent {consent_id} {'granted' if grant else 'denied'}.")


@routes.post("/cases/{case_id}/consent-request")
def request_consent(case_id: UUID, request: Request, ctx: Ctx = Depends(FORM)):
    body = ConsentRequestCreate.model_validate({
        "items": ctx.many("items"), "action": ctx.field("action"),
        "recipient_authority": ctx.field("consent_recipient") or None, "purpose": ctx.field("consent_purpose"),
        "supporting_information": ctx.field("supporting_information") or None})
    if not _confirmed(ctx):
        return _check(ctx, request, case_id, "ask for consent", "The request is signed and sent to the provider.",
                      [("Items", ", ".join(body.items)), ("For", body.action), ("Recipient", body.recipient_authority),
                       ("Purpose", body.purpose), ("Supporting information", body.supporting_information)],
                      "Ask for consent")
    ctx.node.consent.request_consent(ctx.who, case_id, **body.model_dump())
    return _done(ctx, case_id, "Consent requested from the provider.")


@routes.post("/cases/{case_id}/advance-notice")
def advance_notice(case_id: UUID, request: Request, ctx: Ctx = Depends(FORM)):
    body = AdvanceNoticeCreate.model_validate({"items": ctx.many("items"),
                                               "recipient_authority": ctx.field("notice_recipient"),
                                               "legal_provision": ctx.field("legal_provision")})
    if not _confirmed(ctx):
        return _check(ctx, request, case_id, "give advance notice", "The provider is notified before the disclosure.",
                      [("Items", ", ".join(body.items)), ("Recipient", body.recipient_authority),
                       ("Legal provision", body.legal_provision)], "Give notice")
    ctx.node.consent.give_advance_notice(ctx.who, case_id, **body.model_dump())
    return _done(ctx, case_id, "Advance notice given.")


@routes.post("/cases/{case_id}/disclosure")
def disclose(case_id: UUID, request: Request, ctx: Ctx = Depends(FORM)):
    data = {"items": ctx.many("items"), "action": ctx.field("action") or "disclosure",
            "purpose": ctx.field("disclose_purpose"), "basis": ctx.field("basis"),
            "recipient_authority": ctx.field("disclose_recipient") or None,
            "recipient_kind": ctx.field("recipient_kind") or None, "consent_id": ctx.field("consent_id") or None,
            "legal_provision": ctx.field("disclose_provision") or None,
            "advance_notice_id": ctx.field("advance_notice_id") or None,
            "notice_impossible_reason": ctx.field("notice_impossible_reason") or None}
    body = DisclosureCreate.model_validate(data).model_dump()
    if not _confirmed(ctx):
        return _check(ctx, request, case_id, "disclose", "The disclosure is recorded and the provider notified; a "
                      "disclosure without a valid basis is refused and the attempt recorded.",
                      [(k.replace("_", " ").capitalize(), ", ".join(v) if isinstance(v, list) else v)
                       for k, v in body.items() if v], "Record the disclosure")
    body["items"] = tuple(body["items"])
    ctx.node.consent.disclose(ctx.who, case_id, DisclosureRequest(**body))
    return _done(ctx, case_id, "Disclosure recorded; the provider is notified.")


@routes.post("/cases/{case_id}/forward")
def forward(case_id: UUID, request: Request, ctx: Ctx = Depends(FORM)):
    body = Forwarding.model_validate({"authority": ctx.field("authority"), "reason": ctx.field("forward_reason")})
    return _step(ctx, request, case_id, (
        "forward the request", "The request goes to that authority and the requesting administration is told; "
        "this node's part ends.", [("Authority", body.authority), ("Why", body.reason)], "Forward the request"),
        lambda: ctx.node.cases.forward(ctx.who, case_id, authority=body.authority, reason=body.reason),
        f"Forwarded to {body.authority}; the requesting administration is told.")


@routes.post("/cases/{case_id}/consult")
def consult(case_id: UUID, request: Request, ctx: Ctx = Depends(FORM)):
    body = Consultation.model_validate({"subject": ctx.field("subject"), "message": ctx.field("consult_message")})
    return _step(ctx, request, case_id, (
        "consult the requesting administration", "Your message is signed and sent; the case waits for the answer.",
        [("About", body.subject.replace("_", " ")), ("Message", body.message)], "Send"),
        lambda: ctx.node.cases.open_consultation(ctx.who, case_id, subject=body.subject, message=body.message),
        "Consultation sent.")


@routes.post("/cases/{case_id}/written-confirmation")
def confirm_in_writing(case_id: UUID, request: Request, ctx: Ctx = Depends(FORM)):
    body = WrittenConfirmation.model_validate({"reference": ctx.field("confirmation_reference")})
    return _step(ctx, request, case_id, (
        "confirm the oral request in writing", "The written confirmation is signed and sent to the requested "
        "administration.", [("Document", body.reference)], "Confirm in writing"),
        lambda: ctx.node.cases.confirm_in_writing(ctx.who, case_id, reference=body.reference),
        "Written confirmation sent.")


@routes.post("/cases/{case_id}/close")
def close(case_id: UUID, request: Request, ctx: Ctx = Depends(FORM)):
    body = Closure.model_validate({"reason": ctx.field("close_reason")})
    return _step(ctx, request, case_id, (
        "close the case", "No further step can be made on it on this node.", [("Why", body.reason)],
        "Close the case", True), lambda: ctx.node.cases.close(ctx.who, case_id, reason=body.reason), "Case closed.")
