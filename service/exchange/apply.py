"""Applying a verified inbound envelope to its case: steps 13-15 of ``docs/envelope-format.md`` §3.1 (the agreement,
the kind and its body, the case and its state), then the case event and the inbox row in one transaction."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from pydantic import ValidationError

from adapters.exchange_tables import inbox_row
from domain.case import RECEIVING, REQUESTED, AssistanceCase
from domain.disclosure import basis_article, consent_article, tighten
from domain.errors import DomainError, as_prose
from domain.information import normalise_items
from domain.messages import KINDS, OPENING, RECEIVER_SIDES, local_case_id
from domain.personal_data import ARTICLE as PD_ARTICLE
from domain.requests import RequestCheck, RequestContent, check_request
from service.exchange.rejection import EnvelopeRejected
from service.exchange.schemas import BODY_SCHEMAS, EnvelopePayload


class InboxApplication:
    """Part of :class:`service.exchange.service.ExchangeService`: each message kind's effect on a case."""

    def _apply(self, envelope: EnvelopePayload, eid: str, now: datetime, receipt: str, digest: str,
               content_sha256: str, directory, commit: bool = True, look: bool = False):
        """Apply and store; returns the case id (``commit=False``: the case, changed, and its inbox row,
        for the caller to store with others, ``Inbox.receive_many``).

        An opening is stored without looking up whether its case exists (a statement per opening): one
        that does makes the commit conflict, and the caller tries again with ``look``, which refuses it."""
        sender = envelope.from_
        # 13. The agreement binds this partner at this node.
        try:
            profile = self.agreements.get(envelope.agreement)
            directory.require_partner(profile, sender.administration)
        except DomainError as error:
            raise EnvelopeRejected(13, error.code, str(error), eid, error.article) from None
        # 14. The kind is known, its body has the published shape.
        schema = BODY_SCHEMAS.get(envelope.kind)
        if schema is None or envelope.kind not in KINDS:
            raise EnvelopeRejected(14, "unknown-kind", f"unknown message kind {envelope.kind}", eid)
        try:
            body = schema.model_validate(envelope.body).model_dump(mode="json")
        except ValidationError as error:
            first = error.errors()[0]
            raise EnvelopeRejected(14, "malformed-body", f"body.{'.'.join(map(str, first['loc']))}: {as_prose(first['msg'])}",
                                   eid) from None
        exchange_id = UUID(envelope.case.exchange_id)
        case_id = local_case_id(self.administration, envelope.case.opened_by, exchange_id)
        actor = {"administration": sender.administration, "official": sender.official}
        if envelope.case.opened_by not in (self.administration, sender.administration):
            raise EnvelopeRejected(14, "foreign-case", "the case was opened by neither party", eid)
        try:
            if envelope.kind in OPENING:
                if envelope.case.opened_by != sender.administration:
                    raise EnvelopeRejected(14, "wrong-direction", f"a {envelope.kind} opens the sender's case", eid)
                case = self._open_from(envelope, profile, body, case_id, exchange_id, actor, now, eid, directory,
                                       look=look)
            else:
                case = self._step_on(envelope, profile, body, case_id, actor, now, eid)
        except DomainError as error:
            # 15. The case's state allows this step (or, for a request, the treaty rules hold).
            step = 13 if error.code in ("agreement-not-in-force", "request-incomplete", "treaty-rule-violation") \
                else 15
            raise EnvelopeRejected(step, error.code, str(error), eid, error.article) from None
        row = inbox_row(envelope_id=eid, sender=sender.administration, content_sha256=content_sha256,
                        envelope_sha256=digest, receipt=receipt, case_id=str(case_id))
        if not commit:
            return case, row
        self.store.commit(case, inbox=row)
        return case_id

    def _open_from(self, envelope, profile, body, case_id, exchange_id, actor, now, eid, directory, look=False):
        # Looked up only when told (``look``): a case that exists makes the commit conflict, and the caller
        # tries again looking (one envelope: ``Inbox._apply_verified``; a batch is then stored one by one,
        # each looked up: ``InboxBatches._store_pending``).
        if look and self.store.exists(case_id):
            raise EnvelopeRejected(14, "case-exists", f"case {envelope.case.exchange_id} was already opened", eid)
        sender = envelope.from_.administration
        common = dict(case_id=case_id, agreement=profile.id, own_administration=self.administration,
                      partner_administration=sender, reference=envelope.case.reference,
                      addressed_to=list(envelope.to.officials), by=actor, at=now, exchange_id=exchange_id,
                      via_envelope=eid)
        if envelope.kind == "request":
            content = RequestContent.from_dict(body["content"])
            article = check_request(RequestCheck(
                profile=directory.terms(profile), period=directory.period(profile), kind=body["kind"], language=body["language"],
                requesting=sender, requested=self.administration, content=content, day=now.date(),
                bilateral_languages=tuple(directory.partners[sender].get("languages", ()))))
            articles = [article, profile.cite(profile.raw["languages"]["article"])]
            due = None
            if body["channel"] == "oral":
                articles.append(profile.cite(profile.oral_requests["article"]))
                if profile.oral_requests["written_confirmation"] == "required":
                    due = now + timedelta(days=int(profile.oral_requests["confirmation_due_days"]))
            return AssistanceCase.open(AssistanceCase.RequestReceived, side=REQUESTED, kind=body["kind"],
                                       language=body["language"], content=content.to_dict(), articles=articles,
                                       channel=body["channel"], confirmation_due_by=due, **common)
        rule = profile.kind_rule("spontaneous", sender, self.administration)
        items = normalise_items(profile, body["items"], envelope.case.reference)
        return AssistanceCase.open(AssistanceCase.SpontaneousAssistanceReceived, side=RECEIVING, kind="spontaneous",
                                   language=body["language"],
                                   content={"reason": body["relevance"], "case_description": body["case_description"],
                                            "targets": body.get("targets", [])},
                                   articles=[rule.article, profile.cite(profile.use_restrictions["article"])],
                                   channel="envelope", items=items, **common)

    def _step_on(self, envelope, profile, body, case_id, actor, now, eid):
        # 14. The case exists (an unknown case is step 14's, like a foreign one: one list of steps).
        case = self.store.load(case_id, EnvelopeRejected(14, "not-found", "no case for exchange id "
                                                         f"{envelope.case.exchange_id}", eid))
        if not isinstance(case, AssistanceCase) or case.partner_administration != actor["administration"] or \
                case.agreement != profile.id or case.exchange_id != UUID(envelope.case.exchange_id):
            raise EnvelopeRejected(14, "wrong-case", "the envelope's case does not match a case with this partner "
                                   "under this agreement", eid)
        if case.side not in RECEIVER_SIDES[envelope.kind]:
            raise EnvelopeRejected(14, "wrong-direction", f"a {envelope.kind} is not sent to the {case.side} side", eid)
        rules = profile.raw["disclosure"]
        if envelope.kind == "written_confirmation":
            case.record_partner_confirmation(envelope_id=eid, by=actor, at=now,
                                             article=profile.cite(profile.oral_requests["article"]),
                                             reference=body["reference"])
        elif envelope.kind == "consent_request":
            case.record_consent_request(envelope_id=eid, by=actor, at=now,
                                        article=consent_article(profile, body["action"]), **body)
        elif envelope.kind in ("consent_grant", "consent_denial"):
            case.record_consent_answer(consent_id=body["consent_id"], granted=envelope.kind == "consent_grant",
                                       conditions=body.get("conditions", []), expires_on=body.get("expires_on"),
                                       reasons=body.get("reasons"), envelope_id=eid, by=actor, at=now,
                                       article=consent_article(
                                           profile, case.consents.get(body["consent_id"], {}).get("action")))
        elif envelope.kind == "restriction_notice":
            current = case.items_by_id.get(body["item_id"])
            if current is None:
                raise EnvelopeRejected(15, "unknown-item", f"no item {body['item_id']} in this case", eid)
            tightened = tighten(profile, current["restrictions"], body["restrictions"], "restrictions")
            case.record_restrictions_notice(item_id=body["item_id"], restrictions=tightened, envelope_id=eid,
                                            by=actor, at=now, article=profile.cite(rules["restriction_notice_article"]))
        elif envelope.kind == "rectification_notice":
            # JP-NO Art. 9(2): the partner's DPO corrected a target's record; correct ours the same way.
            targets = case.content.get("targets") or []
            index = body["target_index"]
            current = targets[index] if index < len(targets) else None
            if not isinstance(current, dict) or "erased" in current:
                raise EnvelopeRejected(15, "no-such-target", f"this case holds no target {index} to rectify "
                                       "(none, or its personal data was erased)", eid, PD_ARTICLE)
            subjects = self.vault.find_subjects(current) if self.vault is not None else []
            case.rectify_target(subject_id=subjects[0] if subjects else "", index=index, value=body["value"],
                                reason=body["reason"], by=actor, at=now, article=PD_ARTICLE, envelope_id=eid)
        elif envelope.kind in ("advance_notice", "disclosure_notice"):
            notice = {k: v for k, v in body.items() if k != "notice_id"}
            case.record_partner_notice(notice_id=body["notice_id"], kind=envelope.kind, notice=notice,
                                       envelope_id=eid, by=actor, at=now,
                                       article=profile.cite(rules["legal_obligation"]["article"])
                                       if envelope.kind == "advance_notice"
                                       else basis_article(profile, body.get("basis"), body.get("action")))
        else:
            if envelope.kind == "reply":
                # Items the sender left without an id get one unique in the case, as a reply made here does.
                body = {**body, "items": normalise_items(profile, body["items"], f"{case.reference}-{case.version + 1}")}
            case.record_partner_step(step=envelope.kind, envelope_id=eid, by=actor, at=now,
                                     articles=self._articles_for(profile, envelope.kind, body), body=body)
        return case

    @staticmethod
    def _articles_for(profile, kind: str, body: dict) -> list[str]:
        if kind == "acknowledgement":
            return [profile.article("execution_article")]
        if kind == "forwarding":
            return [profile.article("forwarding_article")]
        if kind == "reply":
            return [profile.article("reply_article"), profile.cite(profile.use_restrictions["article"])]
        if kind == "refusal":
            return [profile.article("refusal_reasons_article")]
        if kind == "postponement":
            return [profile.article("postponement_article"), profile.article("postponement_reasons_article")]
        return [profile.consultation_article(body["subject"])]
