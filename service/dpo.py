"""The data protection officer's work: access reports, rectification, restriction,
erasure, the retention sweep and the activity log (JP-NO Art. 9(2); the
privacy statement's rights of access, rectification, erasure, restriction).

Every call is role-checked (``dpo``) and itself recorded in the activity log.
A data subject is named by identifiers (name with date of birth, document
numbers, company ids), never by a plaintext search: the vault's keyed-hash index
finds the subject, its key table finds the cases.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from adapters.vault import UNIDENTIFIED, Vault
from domain.case import AssistanceCase
from domain.errors import CaseNotFound, ConcurrentUpdate, InvalidInput, NotFound
from domain.personal_data import ARTICLE
from service.ops.observability import current_request_id
from service.ops.periodic import Periodic
from service.dpo_report import AccessReports
from service.principal import Principal

log = logging.getLogger("cmaa.dpo")
SWEEPER = {"administration": "", "official": "retention-sweep"}


@dataclass
class DpoService(AccessReports):
    store: Any
    vault: Vault
    cases: Any  # service.cases.CaseService
    agreements: Any
    clock: Any
    metrics: Any = None
    last_sweep: dict = field(default_factory=dict)

    # -- finding a subject ------------------------------------------------------------
    def subject(self, query: dict[str, Any]) -> str:
        found = self.vault.find_subjects(query)
        if not found:
            raise NotFound("this node holds no personal data under these identifiers", field="subject")
        return found[0]

    def _log(self, who: Principal, action: str, purpose: str, subject_ids=(), case_id: str | None = None) -> None:
        self.vault.log_activity(official=who.official_id, role=",".join(who.roles), action=action, purpose=purpose,
                                at=self.clock.now(), case_id=case_id, subject_ids=subject_ids,
                                request_id=current_request_id())

    # -- access (the right of access) -----------------------------------------------------
    def access_report(self, who: Principal, query: dict[str, Any], purpose: str) -> dict[str, Any]:
        who.require("dpo")
        subject_id = self.subject(query)
        self._log(who, "access report", purpose, [subject_id])
        return self.report(subject_id)

    def erase(self, who: Principal, query: dict[str, Any], rule: str, purpose: str) -> dict[str, Any]:
        """Erase every piece of a subject's personal data (the right to erasure)."""
        who.require("dpo")
        if not rule.strip():
            raise InvalidInput("an erasure names the rule it rests on", field="rule", article=ARTICLE)
        subject_id = self.subject(query)
        self._log(who, "erasure", purpose, [subject_id])
        live = [k for k in self.vault.keys(subject_id=subject_id) if k["erased_at"] is None]
        done = self._erase_keys(live, lambda _case: rule, who.as_actor)
        return {"subject_id": subject_id, "rule": rule, **done}

    def sweep(self, by: dict | None = None) -> dict[str, Any]:
        """Erase what has outlived its retention (JP-NO Art. 9(2) and the provider's restriction)."""
        now = self.clock.now()
        expired = self.vault.expired(now.date())

        def rule(case: AssistanceCase) -> str:
            profile = self.agreements.get(case.agreement)
            return f"{profile.cite(profile.use_restrictions['retention_article'])} retention period"
        try:
            done = self._erase_keys(expired, rule, by or SWEEPER)
        except Exception:
            if self.metrics is not None:
                self.metrics.retention_sweeps.labels("failed").inc()
            raise
        self.last_sweep = {"at": now.isoformat(), **done}
        for case in done["cases"]:  # what the sweep did, for the DPO (GET /dpo/activity)
            self.vault.log_activity(official=(by or SWEEPER)["official"], role="retention", at=now,
                                    action=f"retention sweep: {case['keys']} key(s) erased under {case['rule']}",
                                    purpose="retention (JP-NO Art. 9(2))", case_id=case["case_id"],
                                    subject_ids=case["subjects"], request_id=current_request_id())
        if self.metrics is not None:
            self.metrics.retention_sweeps.labels("ok").inc()
            self.metrics.retention_erased_keys.inc(done["keys_erased"])
        log.info("retention sweep", extra={"keys_erased": done["keys_erased"], "cases": len(done["cases"])})
        return self.last_sweep

    def _erase_keys(self, keys: list[dict], rule_for, by: dict) -> dict[str, Any]:
        """Per case: record ``PersonalDataErased`` (the fact, in the audit chain), then destroy the keys.

        If the node stops between the two, the next sweep or erasure finds the keys live,
        sees the event already recorded for them, and only destroys them.
        """
        by_case: dict[str, list[dict]] = defaultdict(list)
        for key in keys:
            by_case[key["case_id"]].append(key)
        now, cases, erased = self.clock.now(), [], 0
        for case_id, case_keys in sorted(by_case.items()):
            rule = None
            for _ in range(5):
                try:
                    case = self.store.load(UUID(case_id), CaseNotFound(case_id))
                    rule = rule_for(case)
                    recorded = case.erased_keys()
                    by_subject: dict[str, list[str]] = defaultdict(list)
                    for key in case_keys:
                        if key["key_id"] not in recorded:
                            by_subject[key["subject_id"]].append(key["key_id"])
                    for subject_id, ids in sorted(by_subject.items()):
                        case.record_erasure(subject_id=subject_id, key_ids=ids, rule=rule, by=by, at=now)
                    self.store.commit(case)
                    break
                except ConcurrentUpdate:
                    continue
            erased += self.vault.destroy([k["key_id"] for k in case_keys], rule or "erasure", now)
            cases.append({"case_id": case_id, "rule": rule, "keys": len(case_keys),
                          "subjects": sorted({k["subject_id"] for k in case_keys})})
        return {"keys_erased": erased, "cases": cases}

    # -- restriction --------------------------------------------------------------------------
    def restrict(self, who: Principal, query: dict[str, Any], reason: str, purpose: str) -> dict[str, Any]:
        who.require("dpo")
        if not reason.strip():
            raise InvalidInput("a restriction gives its reason", field="reason", article=ARTICLE)
        subject_id = self.subject(query)
        self.vault.restrict(subject_id, who.official_id, reason, self.clock.now())
        self._log(who, "restriction", purpose, [subject_id])
        return {"subject_id": subject_id, **self.vault.restrictions([subject_id])[subject_id]}

    def lift(self, who: Principal, subject_id: str, purpose: str) -> None:
        who.require("dpo")
        if not self.vault.lift(subject_id):
            raise NotFound(f"no restriction on subject {subject_id}", field="subject_id")
        self._log(who, "restriction lifted", purpose, [subject_id])

    # -- rectification ------------------------------------------------------------------------
    def rectify(self, who: Principal, query: dict[str, Any], case_id: UUID, corrected: dict[str, Any],
                reason: str, purpose: str) -> AssistanceCase:
        """Correct a target's record in one case; the partner that sent or received it is told."""
        who.require("dpo")
        subject_id = self.subject(query)
        self._log(who, "rectification", purpose, [subject_id], str(case_id))

        for _ in range(5):
            case = self.cases.get(who, case_id, ("dpo",))
            profile = self.agreements.get(case.agreement)
            index = next((i for i, t in enumerate(case.content.get("targets") or [])
                          if isinstance(t, dict) and subject_id in self.vault.find_subjects(t)), None)
            if index is None:
                raise InvalidInput("this subject is not a target of the case", field="case_id", article=ARTICLE)
            case.rectify_target(subject_id=subject_id, index=index, value=corrected, reason=reason,
                                by=who.as_actor, at=self.clock.now(),
                                article=profile.cite(profile.use_restrictions["retention_article"]))
            # The notice travels between designated officials (JP-NO Art. 11(1)): it is signed by the
            # official who handles the case here, on the DPO's behalf (the event names the DPO).
            sender = Principal(self._case_official(case), who.administration, ("official",))
            try:
                return self.cases._commit(case, sender, "rectification_notice", target_index=index,
                                          value=corrected, reason=reason)
            except ConcurrentUpdate:
                continue
        raise ConcurrentUpdate("the case kept changing; try the rectification again")

    def _case_official(self, case: AssistanceCase) -> str:
        if case.opened_by.get("administration") == case.own_administration:
            return case.opened_by["official"]
        directory = self.cases.directory.directory()
        candidates = [*case.addressed_to, *sorted(directory.officials)]
        for official in candidates:
            record = directory.officials.get(official)
            if record and record.get("active", True) and "official" in record.get("roles", []):
                return official
        raise NotFound("no designated official of this administration can send the rectification notice",
                       field="case_id")

    def activity(self, who: Principal, *, subject_id: str | None, official: str | None, limit: int) -> list[dict]:
        who.require("dpo")
        rows = self.vault.activity(subject_id=subject_id, official=official, limit=limit)
        self._log(who, "activity log read", "supervision of processing", [subject_id] if subject_id else [])
        return rows

    # -- reads by officials and auditors (the activity log, restriction) --------------------------
    def on_read(self, who: Principal, case: AssistanceCase, action: str, purpose: str | None) -> dict | None:
        """Record a read of a case's personal data; return the restriction that withholds it, if any."""
        subjects = [s for s in self.vault.case_subjects(str(case.id)) if not s.startswith(UNIDENTIFIED)]
        if not subjects:
            return None
        self._log(who, action, purpose or "not stated", subjects, str(case.id))
        restricted = self.vault.restrictions(subjects)
        if not restricted or "dpo" in who.roles:
            return None
        return {"since": min(r["since"] for r in restricted.values())}


class SweepThread(Periodic):
    """Runs the retention sweep every ``interval`` seconds in the service."""

    name = "cmaa-retention-sweep"
    delay_first = True

    def __init__(self, dpo: DpoService, interval: float):
        super().__init__(interval)
        self.dpo = dpo

    def tick(self) -> None:
        try:
            self.dpo.sweep()
        except Exception:  # noqa: BLE001 - logged and counted; the next sweep tries again
            log.exception("retention sweep failed")

