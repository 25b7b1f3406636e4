"""The exchange protocol's one service object, composed of its parts: keys and directories, the outbox, the inbox."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from adapters.keystore import KeyStore
from adapters.store import EventStore
from domain.agreements import Agreements
from service.exchange.apply import InboxApplication
from service.exchange.directory import DirectoryService
from service.exchange.inbox import Inbox
from service.exchange.inbox_batch import InboxBatches
from service.exchange.keys import KeysAndDirectories
from service.exchange.outbox import Outbox


@dataclass
class ExchangeService(KeysAndDirectories, Outbox, Inbox, InboxBatches, InboxApplication):
    """Outgoing: a case command queues an outbox row in the same transaction as its event (:meth:`Outbox.outgoing`);
    the courier (``service/exchange/courier.py``) seals and delivers it. Incoming: :meth:`Inbox.receive` verifies
    an envelope in the numbered steps of ``docs/envelope-format.md`` before anything is stored, applies it
    (:class:`InboxApplication`), and answers with a signed receipt."""

    store: EventStore
    agreements: Agreements
    directory: DirectoryService
    clock: Any
    keystore: KeyStore
    endpoint: str | None = None
    max_skew: timedelta = timedelta(minutes=5)
    wake: Any = None  # set by the courier thread: called when an envelope is queued
    unsafe_fault_exit_after_store: bool = False  # fault injection for tests, see Settings
    witness: Any = None  # service.exchange.witness.Witness: partners witness each other's logs
    limiter: Any = None  # service.http.ratelimit.RateLimiter: inbound envelopes per partner
    vault: Any = None  # adapters.vault.Vault: personal data sealed in the outbox too
    refresher: Any = None  # service.exchange.refresh.DirectoryRefresher: partners' directories on unknown senders

    @property
    def administration(self) -> str:
        return self.directory.administration
