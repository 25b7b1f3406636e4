"""The courier: delivers outbox envelopes to partner nodes, at least once.

Each pass claims due rows with a lease (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so replicas never deliver the same envelope at once), seals each
envelope afresh (a new ``sent_at``, the sender's current key), posts it to the
partner's inbox, and then:

* on a signed receipt that verifies: records ``EnvelopeDelivered`` on the case
  and marks the row delivered;
* on a signed rejection: records ``EnvelopeRejected`` on the case and stops;
* on anything else (partner down, 5xx, timeout, a concurrent-update 409):
  retries later with exponential backoff and jitter.

Under load, envelopes for one partner go several to a request
(``POST /exchange/inbox/batch``, docs/envelope-format.md §3.5): at most one
envelope per case in each, so a case's steps still arrive in order; each is
answered as if alone and handled as above, and the outcomes of one batch are
recorded in one transaction. A partner that answers 404 or 405 there gets one
envelope per request.

A crash at any point leaves the row pending or leased; the lease expires and
the envelope is sent again; the receiver answers a re-sealed retry with the
receipt it already gave, so the effect is exactly once.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from adapters import jose
from adapters.exchange_tables import outcome_update
from adapters.store import EventStore
from domain.errors import DomainError
from service.exchange.courier_batches import BatchDelivery, logged_under, retry_after_ms
from service.exchange.directory import one_directory_read
from service.exchange.service import ExchangeService

log = logging.getLogger("cmaa.courier")
MAX_BACKOFF_MS = 300_000


@dataclass
class Courier(BatchDelivery):
    store: EventStore
    exchange: ExchangeService
    clock: Any
    http: httpx.Client
    owner: str = field(default_factory=lambda: f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}")
    batch: int = 64
    workers: int = 8
    metrics: Any = None
    production: bool = False
    per_request: int = 16  # envelopes per request to a partner that takes batches (1: never batch)
    max_batch_bytes: int = 512 * 1024  # a batch's body at most this (a partner reads at most its own limit)
    stopping: threading.Event = field(default_factory=threading.Event)
    no_batches: dict[str, float] = field(default_factory=dict)  # partner -> until when one per request
    last_claimed: int = 0  # how many envelopes the last pass claimed (``batch``: perhaps more are due)

    def deliver_due(self) -> int:
        """One pass; returns how many envelopes reached a final state (delivered or rejected).

        The claimed envelopes are delivered concurrently over the client's kept-alive
        connections, so the sender seals and the receiver applies at the same time.
        Envelopes of one case keep their order: they go one after another.
        """
        rows = self.store.exchange.claim_due(self.owner, self.batch)
        self.last_claimed = len(rows)
        if not rows:
            return 0
        by_case: dict[str, list[dict]] = {}
        for row in rows:
            by_case.setdefault(row["case_id"], []).append(row)
        batched, singly = self._batches_or_not(list(by_case.values()))
        done = self._deliver_in_waves(batched) if batched else 0
        if len(singly) <= 1 or self.workers <= 1:
            return done + sum(self._deliver_in_order(group) for group in singly)
        with ThreadPoolExecutor(max_workers=min(self.workers, len(singly))) as pool:
            return done + sum(pool.map(self._deliver_in_order, singly))

    def _deliver_in_order(self, rows: list[dict]) -> int:
        done = 0
        for row in rows:
            if self.stopping.is_set():  # shutting down: hand the rest back at once (not after the lease)
                for later in rows[rows.index(row):]:
                    self.store.exchange.mark_retry(later["envelope_id"], self.owner, "node shutting down", 0)
                break
            with logged_under(row), one_directory_read():  # one read of the directory per delivery
                finished = self._deliver(row)
            done += finished
            if not finished:  # a later step must not overtake an earlier one
                for later in rows[rows.index(row) + 1:]:
                    self.store.exchange.mark_retry(later["envelope_id"], self.owner, "waiting for an earlier step", 0)
                break
        return done

    def _deliver(self, row: dict) -> int:
        prepared = self._prepare(row)
        if isinstance(prepared, int):
            return prepared
        return self._send(row, *prepared)

    def _prepare(self, row: dict) -> int | tuple[str, bytes, list[str]]:
        """The partner's endpoint, the envelope sealed afresh and the digests of every attempt so far with
        this one last; or, when it cannot be sent now or ever, what became of it (0 or 1)."""
        partner = row["partner"]
        directory = self.exchange.directory.directory()
        endpoint = directory.partners.get(partner, {}).get("endpoint")
        try:
            if not endpoint:
                raise DomainError(f"partner {partner} has no endpoint")
            if self.production and endpoint.startswith("http://"):
                raise DomainError(f"partner {partner}'s endpoint is plain HTTP; production sends over HTTPS only")
            if directory.partners.get(partner, {}).get("alarm"):
                raise DomainError(f"partner {partner} is under a history alarm; an operator must clear it")
            payload, erased = self.exchange.open_outbox_payload(row)
            if erased:
                return self._erased_before_delivery(row, erased[0])
            sealed = self.exchange.seal(payload)
        except DomainError as error:
            return self._retry(row, str(error), "not-sendable")
        return endpoint, sealed, json.loads(row["sent_digests"]) + [jose.sha256_hex(sealed)]

    def _send(self, row: dict, endpoint: str, sealed: bytes, digests: list[str], attempted: bool = False) -> int:
        """One envelope to the partner's inbox (``attempted``: its digest already recorded)."""
        if not attempted:
            self.store.exchange.record_attempt(row["envelope_id"], self.owner, digests)
        try:
            headers = {"Content-Type": "application/jose+json"}
            if row.get("request_id"):
                headers["X-Request-Id"] = row["request_id"]
            response = self.http.post(f"{endpoint.rstrip('/')}/exchange/inbox", content=sealed, headers=headers)
        except httpx.HTTPError as error:
            return self._retry(row, f"transport: {type(error).__name__}", "transport")
        try:
            answer = response.json()
        except ValueError:
            answer = {}
        return self._answered(row, response.status_code, answer, response.headers.get("Retry-After"), digests)

    def _answered(self, row: dict, status: int, answer: Any, retry_after: Any, digests: list[str],
                  record=None) -> int:
        """What the partner answered for one envelope (alone, or in a batch); ``record(row, change, outcome,
        then)`` stores the outcome (default: at once, :meth:`_on_case`)."""
        record = record or self._on_case
        if status == 200:
            return self._delivered(row, answer, digests, record)
        return self._refused(row, status, answer, retry_after, record)

    def _delivered(self, row: dict, answer: Any, digests: list[str], record) -> int:
        try:
            receipt = answer["receipt"]
            claims = self.exchange.verify_receipt(row["partner"], receipt, row["envelope_id"], digests)
        except (ValueError, KeyError, TypeError, DomainError) as error:
            return self._retry(row, f"receipt not accepted: {error}", "receipt-not-accepted")

        def then():
            self._count(row, "delivered")
            log.info("envelope delivered; receipt verified and stored",
                     extra={"envelope_id": row["envelope_id"], "partner": row["partner"], "kind": row["kind"]})
            self._witness_receipt(row["partner"], claims)
        record(row, lambda case: case.record_delivery(
            envelope_id=row["envelope_id"], kind=row["kind"], receipt=receipt,
            envelope_sha256=claims["envelope_sha256"], at=self.clock.now()),
            outcome_update(row["envelope_id"], receipt=receipt), then)
        return 1

    def _witness_receipt(self, partner: str, claims: dict) -> None:
        """The partner's checkpoint in a receipt, witnessed once the delivery is stored (issue 5): the receipt
        stands whatever its checkpoint shows; an alarm blocks what follows. Witnessing a new checkpoint
        fetches a consistency proof from the partner: done after the commit, so the delivery's outcome (and
        the official's view of it) does not wait for that round trip."""
        witness = self.exchange.witness
        if witness is None:
            return
        witness.keep_cosignature(partner, claims.get("cosigned_checkpoint"))
        try:
            witness.observe(partner, claims.get("checkpoint"))
        except DomainError as error:
            log.error("witnessing %s's checkpoint from a receipt: %s", partner, error)

    def _refused(self, row: dict, status: int, problem: Any, retry_after: Any, record) -> int:
        signed = problem.get("signed_rejection") if isinstance(problem, dict) else None
        claims = self.exchange.verify_rejection(row["partner"], signed) if signed else None
        if status == 429:
            delay = retry_after_ms(retry_after)
            return self._retry(row, "HTTP 429: partner rate limit", "rate-limited", delay_ms=delay)
        if claims is None or claims.get("code") == "concurrent-update" or status >= 500:
            return self._retry(row, f"HTTP {status}", f"http-{status}")
        # The refused step's body, for the case to reopen what it answered (consents carry no personal data).
        body = json.loads(row["payload"]).get("body") if row["kind"] in ("consent_grant", "consent_denial") else None

        def then():
            self._count(row, "rejected")
            if self.metrics is not None:
                self.metrics.delivery_rejections.labels(row["partner"], str(claims.get("step")),
                                                        str(claims.get("code"))).inc()
            log.warning("envelope rejected by partner (signed rejection stored)",
                        extra={"envelope_id": row["envelope_id"], "partner": row["partner"],
                               "step": claims.get("step"), "code": claims.get("code")})
        record(row, lambda case: case.record_rejection(
            envelope_id=row["envelope_id"], kind=row["kind"], step=claims.get("step"), code=claims.get("code", ""),
            reason=claims.get("reason", ""), signed_rejection=signed, at=self.clock.now(), body=body),
            outcome_update(row["envelope_id"], rejection=claims), then)
        return 1

    def _erased_before_delivery(self, row: dict, marker: str) -> int:
        """The personal data the envelope carries was erased while it waited: it is never sent
        (JP-NO Art. 9(2)); the case records the envelope as not delivered, with the reason."""
        claims = {"step": None, "code": "personal-data-erased",
                  "reason": f"not sent: the personal data it carried was {marker.strip('[]')}"}
        self._on_case(row, lambda case: case.record_rejection(
            envelope_id=row["envelope_id"], kind=row["kind"], step=None, code=claims["code"],
            reason=claims["reason"], signed_rejection=None, at=self.clock.now()),
            outcome_update(row["envelope_id"], rejection=claims))
        self._count(row, "not-sent-erased")
        log.warning("envelope not sent: its personal data was erased", extra={"envelope_id": row["envelope_id"],
                                                                              "partner": row["partner"]})
        return 1

    def _retry(self, row: dict, error: str, reason: str, delay_ms: int | None = None) -> int:
        attempts = row["attempts"] + 1
        delay = min(MAX_BACKOFF_MS, 500 * 2 ** min(attempts, 20))
        delay = int(delay * random.uniform(0.5, 1.0))
        if delay_ms is not None:
            delay = max(delay, delay_ms)
        log.info("delivery failed; will retry", extra={"envelope_id": row["envelope_id"], "partner": row["partner"],
                                                      "reason": reason, "retry_in_ms": delay})
        self.store.exchange.mark_retry(row["envelope_id"], self.owner, error, delay)
        self._count(row, "retry")
        if self.metrics is not None:
            self.metrics.delivery_retries.labels(row["partner"], reason).inc()
        return 0

    def _count(self, row: dict, outcome: str) -> None:
        if self.metrics is not None:
            self.metrics.deliveries.labels(row["partner"], outcome).inc()
