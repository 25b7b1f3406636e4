"""Several envelopes in one request (``POST /exchange/inbox/batch``, docs/envelope-format.md §3.5): each verified
and answered as by ``Inbox.receive``, the applied ones stored together."""

from __future__ import annotations

import os

from domain.errors import ConcurrentUpdate
from service.exchange.inbox import Inbound
from service.exchange.rejection import EnvelopeRejected
from service.http.ratelimit import RateLimited


class InboxBatches:
    """Part of :class:`service.exchange.service.ExchangeService`, beside :class:`service.exchange.inbox.Inbox`."""

    def receive_many(self, raws: list[bytes]) -> list[str | Exception]:
        """Several envelopes of one request (``POST /exchange/inbox/batch``, docs/envelope-format.md §3.5):
        each verified in the same steps as :meth:`receive`, the ones that apply stored together — their case
        events and inbox rows in one transaction — and each answered as alone: its receipt, or the
        :class:`EnvelopeRejected` (or ``RateLimited``) that refused it. Two envelopes of one case, or one id
        twice, are stored one after the other, in their order; a conflict with another writer falls back to
        storing them one by one."""
        results: list[str | Exception | None] = [None] * len(raws)
        batch = _Pending()
        for index, raw in enumerate(raws):
            try:
                m = self._verified(raw)
                if isinstance(m, str):  # 12. seen before: its receipt
                    results[index] = m
                    continue
                case_key = (m.envelope.case.opened_by, m.envelope.case.exchange_id)
                if m.eid in batch.ids or case_key in batch.case_keys:  # stored after what it follows
                    self._store_pending(batch, results)
                receipt = self._sign_receipt(m.eid, m.digest, m.envelope.from_.administration, m.now, m.cosigned)
                try:
                    case, row = self._apply(m.envelope, m.eid, m.now, receipt, m.digest, m.content_sha256,
                                            m.directory, commit=False)
                except EnvelopeRejected:
                    seen = self.store.exchange.inbox_get(m.eid)  # another replica may have applied it since 12
                    if seen is None:
                        raise
                    results[index] = self._answer_seen(seen, m)
                    continue
                batch.add(index, m, receipt, case, row, case_key)
            except Exception as refusal:  # noqa: BLE001 — sorted below: refusals are answers, the rest is raised
                if not _is_refusal(refusal):
                    raise
                results[index] = refusal
        self._store_pending(batch, results)
        return results  # type: ignore[return-value]

    def _store_pending(self, batch: "_Pending", results: list) -> None:
        if not batch.items:
            return
        try:
            self.store.commit(*batch.cases, inbox=batch.rows)
        except ConcurrentUpdate:  # another replica wrote one of these cases (or envelopes): one by one
            for index, m, receipt in batch.items:
                try:
                    results[index] = self._apply_verified(m, receipt)
                except EnvelopeRejected as refusal:
                    results[index] = refusal
        else:
            if self.unsafe_fault_exit_after_store:
                os._exit(70)  # stored, never answered: the sender must retry and get the same receipts
            for index, _, receipt in batch.items:
                results[index] = receipt
        batch.clear()


class _Pending:
    """Envelopes of one batch verified and applied to their cases, not stored yet."""

    def __init__(self):
        self.clear()

    def clear(self) -> None:
        self.items: list[tuple[int, Inbound, str]] = []
        self.cases: list = []
        self.rows: list[dict] = []
        self.ids: set[str] = set()
        self.case_keys: set[tuple] = set()

    def add(self, index: int, m: Inbound, receipt: str, case, row: dict, case_key: tuple) -> None:
        self.items.append((index, m, receipt))
        if all(case is not other for other in self.cases):
            self.cases.append(case)
        self.rows.append(row)
        self.ids.add(m.eid)
        self.case_keys.add(case_key)


def _is_refusal(error: Exception) -> bool:
    """An envelope's own refusal (answered in its place in a batch), not a failure of the node."""
    return isinstance(error, (EnvelopeRejected, RateLimited))

