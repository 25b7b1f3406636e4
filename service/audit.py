"""Application service for the audit log: sealing, checkpoints, proofs."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from itertools import takewhile
from uuid import UUID

from adapters.audit_log import AuditLog, Checkpoint
from adapters.keystore import KeyStore
from adapters.merkle import ProofError
from domain.case import AssistanceCase
from domain.errors import CaseNotFound, InvalidInput, NotFound
from domain.findings import findings
from domain.reads import RecordRead
from service.ops.periodic import Periodic
from service.principal import Principal

log = logging.getLogger("cmaa.audit")
SEAL_BATCH = 1000


@dataclass
class AuditService:
    log: AuditLog
    keystore: KeyStore
    agreements: object = None
    clock: object = None
    checkpoint_every_events: int = 100
    checkpoint_every_seconds: float = 60.0
    _last_checkpoint_at: float = field(default=0.0, repr=False)

    def seal_and_checkpoint(self) -> int:
        """Seal what is new; sign a checkpoint every N events or T seconds of change."""
        sealed = 0
        while True:
            batch = self.log.seal(SEAL_BATCH)
            sealed += batch
            if batch < SEAL_BATCH:  # caught up: new events wait for the next pass, in one larger batch
                break
        latest = self.log.latest_checkpoint()
        size = self.log.size()
        grown = size - (latest.size if latest else 0)
        due = time.monotonic() - self._last_checkpoint_at >= self.checkpoint_every_seconds
        if grown >= self.checkpoint_every_events or (grown > 0 and due) or (latest is None and size > 0):
            self.checkpoint()
        return sealed

    def checkpoint(self) -> Checkpoint:
        self._last_checkpoint_at = time.monotonic()
        return self.log.checkpoint(self._raw_key())

    def status(self) -> dict:
        return self.log.status()

    def latest(self) -> Checkpoint:
        checkpoint = self.log.latest_checkpoint()
        if checkpoint is None:
            raise NotFound("no checkpoint has been signed yet")
        return checkpoint

    def replay(self, who: Principal, case_id: UUID, as_of, purpose: str) -> tuple[AssistanceCase, list, list]:
        """The case as it stood at ``as_of`` (or now), its events up to then, and the findings.
        The read itself is recorded first (who, when, why)."""
        who.require("auditor")
        store = self.log.store
        events = list(store.events.get(case_id))
        if not events or not isinstance(events[0], AssistanceCase.AssistanceRequested):
            raise CaseNotFound(case_id)
        store.commit(RecordRead(reader=who.as_actor, role="auditor", case_id=str(case_id), what="case replay",
                                purpose=purpose, at=self.clock.now()))
        if as_of is not None:
            # "As of" is what the store held then: a prefix of the case's stream in version (= commit)
            # order, up to the first event recorded after ``as_of`` by the node's clock (inclusive bound).
            # A later event with an earlier time (a replica whose clock lags) was committed after that
            # one, so after ``as_of``: it is not included (docs/audit-format.md §6).
            events = list(takewhile(lambda e: getattr(e, "at", e.timestamp) <= as_of, events))
            if not events:
                raise NotFound(f"case {case_id} did not exist at {as_of.isoformat()}", field="as_of")
        case = None
        for event in events:
            case = event.mutate(case)
        case.require_owner(who.administration)
        profile = self.agreements.get(case.agreement)
        return case, events, findings(profile, events, as_of or self.clock.now())

    def inclusion(self, who: Principal, case_id: UUID, version: int, size: int | None,
                  purpose: str = "inclusion proof") -> dict:
        who.require("auditor")
        self.log.store.commit(RecordRead(reader=who.as_actor, role="auditor", case_id=str(case_id),
                                         what=f"inclusion proof of event {version}", purpose=purpose,
                                         at=self.clock.now()))
        found = self.log.leaf_of(case_id, version)
        if found is None:
            # An event that does not exist is not found, like its case; only one that exists is "not sealed yet".
            last = next(iter(self.log.store.events.get(case_id, desc=True, limit=1)), None)
            if last is None or not isinstance(next(iter(self.log.store.events.get(case_id, limit=1))),
                                              AssistanceCase.AssistanceRequested):
                raise CaseNotFound(case_id)
            if version > last.originator_version:
                raise NotFound(f"case {case_id} has no event {version}; its last is {last.originator_version}",
                               field="version")
            raise NotFound(f"event {version} of {case_id} is not sealed (yet)", field="version")
        index, leaf = found
        size = size or self.latest().size
        if index >= size:
            raise NotFound(f"event {version} of {case_id} is not in the tree of size {size}", field="size")
        try:
            tree_size, root = self.log.root(size)
            proof = self.log.inclusion_proof(index, size)
        except ProofError as error:
            raise InvalidInput(str(error), field="size") from None
        return {"leaf_index": index, "leaf_hash": leaf.hex(), "tree_size": tree_size, "root": root.hex(),
                "proof": [p.hex() for p in proof]}

    def consistency(self, old_size: int, new_size: int) -> dict:
        try:
            old_root, new_root, proof = self.log.consistency(old_size, new_size)
        except ProofError as error:
            raise InvalidInput(str(error), field="new_size") from None
        return {"old_size": old_size, "new_size": new_size, "old_root": old_root.hex(), "new_root": new_root.hex(),
                "proof": [p.hex() for p in proof]}

    def bundle(self, who: Principal, witness_keys: dict[str, dict], case_id: UUID | None = None,
               since=None, until=None, purpose: str = "audit bundle") -> dict:
        """An audit bundle (events as stored, leaves, proofs, signed checkpoint, node key), sealed up
        to now; the read is recorded first (who, when, why) like any auditor's read."""
        from adapters.bundle import export_bundle
        from adapters.keystore import public_jwk

        who.require("auditor")
        scope = str(case_id) if case_id else ""
        self.log.store.commit(RecordRead(reader=who.as_actor, role="auditor", case_id=scope,
                                         what="audit bundle" + (f" {since or ''}..{until or ''}" if since or until
                                                                else ""),
                                         purpose=purpose, at=self.clock.now()))
        self.seal_and_checkpoint()
        self.checkpoint()
        return export_bundle(self.log.store, self.log, public_jwk(self.keystore.node_signing_key()), case_id,
                             witness_keys, since, until)

    def _raw_key(self):
        """The node key as a ``cryptography`` key: signed notes are not JOSE."""
        return self.keystore.node_signing_key().private_key


class SealerThread(Periodic):
    """Seals and checkpoints in the background of a node process."""

    name = "cmaa-sealer"

    def __init__(self, audit: AuditService, interval: float, metrics=None):
        super().__init__(interval)
        self.audit, self.metrics = audit, metrics
        self.last_ok: float | None = None  # monotonic time of the last successful pass (for /readyz)
        self.started = time.monotonic()

    def tick(self) -> None:
        try:
            self.audit.seal_and_checkpoint()
            self.last_ok = time.monotonic()
            outcome = "ok"
        except Exception:  # the sealer resumes from the store next pass
            log.exception("sealing failed")
            outcome = "failed"
        if self.metrics is not None:
            self.metrics.sealer_passes.labels(outcome).inc()
