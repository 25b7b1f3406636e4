"""The courier's batches: under load, several envelopes of different cases to a partner in one request
(``POST /exchange/inbox/batch``, docs/envelope-format.md §3.5), each case's in its order, the outcomes of a
batch recorded in one transaction; one per request to a partner that takes no batches."""

from __future__ import annotations

import json
import logging
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx

from domain.errors import ConcurrentUpdate
from service.exchange.directory import one_directory_read
from service.ops.observability import request_id_var

log = logging.getLogger("cmaa.courier")
NO_BATCHES_RECHECK_SECONDS = 3600  # a partner that took no batch is asked again after this


class BatchDelivery:
    """Mixed into :class:`service.exchange.courier.Courier`: batches, and recording outcomes on their cases."""

    def _batches_or_not(self, groups: list[list[dict]]) -> tuple[list[list[dict]], list[list[dict]]]:
        """The claimed envelopes by case: those to partners that take batches, and the others."""
        now = time.monotonic()
        takes = {g[0]["partner"]: self.per_request > 1 and self.no_batches.get(g[0]["partner"], 0.0) < now
                 for g in groups}
        return [g for g in groups if takes[g[0]["partner"]]], [g for g in groups if not takes[g[0]["partner"]]]

    def _deliver_in_waves(self, groups: list[list[dict]]) -> int:
        """Each case's first envelope, several to a request per partner; then each case's next, and so on.
        A case whose envelope did not reach a final state keeps its later ones for a later pass."""
        queues, done = [list(group) for group in groups], 0
        while queues:
            if self.stopping.is_set():  # shutting down: hand the rest back at once (not after the lease)
                for queue in queues:
                    for row in queue:
                        self.store.exchange.mark_retry(row["envelope_id"], self.owner, "node shutting down", 0)
                break
            wave = [queue.pop(0) for queue in queues]
            by_partner: dict[str, list[dict]] = {}
            for row in wave:
                by_partner.setdefault(row["partner"], []).append(row)
            chunks = [rows[i:i + self.per_request] for rows in by_partner.values()
                      for i in range(0, len(rows), self.per_request)]
            if len(chunks) == 1 or self.workers <= 1:
                outcomes = [self._deliver_together(chunk) for chunk in chunks]
            else:
                with ThreadPoolExecutor(max_workers=min(self.workers, len(chunks))) as pool:
                    outcomes = list(pool.map(self._deliver_together, chunks))
            finished = {envelope_id: n for outcome in outcomes for envelope_id, n in outcome.items()}
            done += sum(finished.values())
            later = []
            for queue, row in zip(queues, wave):
                if queue and finished.get(row["envelope_id"]):
                    later.append(queue)
                else:  # a later step must not overtake an earlier one
                    for waiting in queue:
                        self.store.exchange.mark_retry(waiting["envelope_id"], self.owner,
                                                       "waiting for an earlier step", 0)
            queues = later
        return done

    def _deliver_together(self, rows: list[dict]) -> dict[str, int]:
        """Envelopes of different cases to one partner, in one request where there are several; returns
        per envelope whether it reached a final state."""
        if len(rows) == 1:
            return {rows[0]["envelope_id"]: self._deliver_in_order(rows)}
        with one_directory_read():  # one read of the directory for the whole batch
            return self._deliver_read(rows)

    def _deliver_read(self, rows: list[dict]) -> dict[str, int]:
        finished: dict[str, int] = {}
        ready: list[tuple[dict, str, bytes, list[str]]] = []
        for row in rows:
            with logged_under(row):
                prepared = self._prepare(row)
            if isinstance(prepared, int):
                finished[row["envelope_id"]] = prepared
            else:
                ready.append((row, *prepared))
        # Bodies of at most max_batch_bytes (an envelope larger than that goes alone).
        batches: list[list[tuple[dict, str, bytes, list[str]]]] = []
        size = 0
        for item in ready:
            if not batches or size + len(item[2]) > self.max_batch_bytes:
                batches.append([])
                size = 0
            batches[-1].append(item)
            size += len(item[2]) + 16
        for batch in batches:
            finished.update(self._post_together(batch))
        return finished

    def _post_together(self, batch: list[tuple[dict, str, bytes, list[str]]]) -> dict[str, int]:
        if len(batch) == 1:
            return {row["envelope_id"]: self._send(row, endpoint, sealed, digests)
                    for row, endpoint, sealed, digests in batch}
        row, endpoint = batch[0][0], batch[0][1]
        self.store.exchange.record_attempts([(r["envelope_id"], digests) for r, _, _, digests in batch], self.owner)
        body = json.dumps({"envelopes": [sealed.decode() for _, _, sealed, _ in batch]})
        try:
            response = self.http.post(f"{endpoint.rstrip('/')}/exchange/inbox/batch", content=body,
                                      headers={"Content-Type": "application/json"})
        except httpx.HTTPError as error:
            return {r["envelope_id"]: self._retry(r, f"transport: {type(error).__name__}", "transport")
                    for r, _, _, _ in batch}
        if response.status_code in (404, 405, 501, 413):
            if response.status_code != 413:  # a node without batches: one envelope per request from now on
                self.no_batches[row["partner"]] = time.monotonic() + NO_BATCHES_RECHECK_SECONDS
                log.info("partner takes one envelope per request", extra={"partner": row["partner"]})
            return {r["envelope_id"]: self._send(r, endpoint, sealed, digests, attempted=True)
                    for r, endpoint, sealed, digests in batch}
        results = _results_of(response, len(batch))
        if results is None:
            delay = retry_after_ms(response.headers.get("Retry-After")) if response.status_code in (429, 503) else None
            return {r["envelope_id"]: self._retry(r, f"HTTP {response.status_code} to a batch",
                                                  f"http-{response.status_code}", delay_ms=delay)
                    for r, _, _, _ in batch}
        recorded: list[tuple] = []
        finished = {}
        for (r, _, _, digests), item in zip(batch, results):
            with logged_under(r):
                status = item["status"]
                answer = {"receipt": item.get("receipt")} if status == 200 else item.get("problem") or {}
                retry_after = answer.get("retry_after") if status == 429 and isinstance(answer, dict) else None
                finished[r["envelope_id"]] = self._answered(r, status, answer, retry_after, digests,
                                                            record=lambda *entry: recorded.append(entry))
        self._on_cases(recorded)
        return finished

    def _on_case(self, row: dict, change, outcome: tuple[str, tuple], then=None) -> None:
        """Record the envelope's outcome on its case, and mark the outbox row, in one transaction."""
        for _ in range(10):
            # Recording a delivery outcome needs none of the case's personal data: left sealed.
            case = self.store.load(uuid.UUID(row["case_id"]), sealed=True)
            change(case)
            try:
                self.store.commit(case, outcome=outcome)
            except ConcurrentUpdate:
                continue
            if then is not None:
                then()
            return
        raise ConcurrentUpdate("could not record the delivery outcome")

    def _on_cases(self, entries: list[tuple]) -> None:
        """The outcomes of one batch (each of another case), in one transaction; one by one if a case
        changed meanwhile."""
        if len(entries) <= 1:
            for entry in entries:
                self._on_case(*entry)
            return
        cases = []
        for row, change, _, _ in entries:
            case = self.store.load(uuid.UUID(row["case_id"]), sealed=True)
            change(case)
            cases.append(case)
        try:
            self.store.commit(*cases, outcomes=[outcome for _, _, outcome, _ in entries])
        except ConcurrentUpdate:
            for entry in entries:
                self._on_case(*entry)
            return
        for *_, then in entries:
            then()


def _results_of(response: httpx.Response, count: int) -> list[dict] | None:
    """A batch's answers, one per envelope in order, each with an integer status; None if it is not that."""
    if response.status_code != 200:
        return None
    try:
        results = response.json()["results"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(results, list) or len(results) != count or \
            not all(isinstance(item, dict) and isinstance(item.get("status"), int) for item in results):
        return None
    return results


def retry_after_ms(retry_after: Any) -> int | None:
    """``Retry-After`` (header text or a problem's ``retry_after``) in ms; None when it says nothing usable."""
    text = str(retry_after) if retry_after is not None else ""
    return int(text) * 1000 if text.isdigit() else None


@contextmanager
def logged_under(row: dict):
    """Logs of one envelope carry the request id it was queued under."""
    token = request_id_var.set(row.get("request_id"))
    try:
        yield
    finally:
        request_id_var.reset(token)
