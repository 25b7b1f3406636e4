"""The access report: what this node holds on a data subject, from whom, under which case, shown to whom, kept
until when (JP-NO Art. 9(2); the privacy statement's right of access)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

from domain.errors import NotFound
from domain.personal_data import ARTICLE, erased_marker
from service.exchange.outbox import PERSONAL_KINDS


class AccessReports:
    """Part of :class:`service.dpo.DpoService`: the report itself, built from the vault's keys and the cases."""

    def report(self, subject_id: str) -> dict[str, Any]:
        keys = {k["key_id"]: k for k in self.vault.keys(subject_id=subject_id)}
        by_case: dict[str, list[dict]] = defaultdict(list)
        for key in keys.values():
            by_case[key["case_id"]].append(key)
        cases = [self._case_report(case_id, keys) for case_id in sorted(by_case)]
        restriction = self.vault.restrictions([subject_id]).get(subject_id)
        return {"subject_id": subject_id, "restricted": restriction, "generated_at": self.clock.now().isoformat(),
                "cases": [c for c in cases if c is not None], "article": ARTICLE}

    def _case_report(self, case_id: str, keys: dict[str, dict]) -> dict[str, Any] | None:
        try:
            case = self.store.load(UUID(case_id))
        except NotFound:
            return None  # keys made for an event whose commit failed: nothing was stored
        transcoder = self.store.mapper.transcoder
        held = []
        for stored in self.store.recorder.select_events(UUID(case_id)):
            name = stored.topic.rsplit(".", 1)[-1]
            state = transcoder.decode(stored.state)
            mine = [(path, kind, ids) for path, kind, ids in self.vault.sealed_parts(name, state)
                    if set(ids) & set(keys)]
            if not mine:
                continue
            opened = vars(self.store.mapper.to_domain_event(stored))
            for path, kind, ids in mine:
                value = _at_path(opened, path)
                key = keys[next(k for k in ids if k in keys)]
                held.append({
                    "event": name, "version": stored.originator_version, "path": path, "kind": kind,
                    "value": value, "provided_by": (state.get("by") or {}).get("administration"),
                    "recorded_at": opened.get("at") or opened.get("timestamp"),
                    "kept_until": key["retain_until"],
                    "erased": (erased_marker(_day(key["erased_at"]), key["erased_rule"])
                               if key["erased_at"] is not None else None),
                })
        sent = [{"to": row["partner"], "kind": row["kind"], "envelope_id": row["envelope_id"],
                 "status": row["status"], "basis": f"{case.agreement}: direct communication between designated "
                                                   f"officials (JP-NO Art. 11(1))"}
                for row in self.store.exchange.for_case(case_id) if row["kind"] in PERSONAL_KINDS]
        disclosed = [{"to": d.get("recipient_authority") or d.get("action"), "basis": d.get("basis"),
                      "articles": d.get("articles", []), "at": d.get("at"), "items": d.get("items", [])}
                     for d in case.disclosures]
        return {"case_id": case_id, "reference": case.reference, "agreement": case.agreement, "side": case.side,
                "own_administration": case.own_administration,
                "partner_administration": case.partner_administration, "status": case.status, "held": held,
                "sent_to_partner": sent, "disclosed": disclosed, "rectifications": case.rectifications,
                "erasures": [e for e in case.erasures if set(e["key_ids"]) & set(keys)]}

    # -- erasure ----------------------------------------------------------------------------


def _day(ms: Any) -> str:
    return datetime.fromtimestamp(int(ms) / 1000, timezone.utc).date().isoformat()


def _at_path(state: dict, path: str) -> Any:
    node: Any = state
    for part in path.split("."):
        node = node[int(part)] if isinstance(node, list) else node.get(part)
    return node
