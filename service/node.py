"""The composition root: one node built from settings, nothing heavy at import."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from adapters.audit_log import AuditLog
from adapters.clock import SystemClock
from adapters.keystore import PERSONAL_DATA_MASTER, KeyStore
from adapters.store import EventStore
from domain.agreements import Agreements
from domain.errors import ConcurrentUpdate, InvalidInput
from service.audit import AuditService
from service.cases import CaseService
from service.consent import ConsentService
from service.exchange.courier import Courier
from service.exchange.refresh import DirectoryRefresher
from service.exchange.directory import DirectoryService
from service.dpo import DpoService
from service.exchange.service import ExchangeService
from service.ops.metrics import Metrics
from service.http.ratelimit import RateLimiter
from service.settings import Settings
from service.exchange.witness import Witness

FIRST_OPERATOR = "operator"


@dataclass
class Node:
    settings: Settings
    store: EventStore
    agreements: Agreements
    clock: Any
    directory: DirectoryService
    cases: CaseService
    exchange: ExchangeService
    courier: Courier
    consent: ConsentService
    audit: AuditService
    metrics: Metrics
    limiter: RateLimiter | None
    vault: Any = None
    dpo: Any = None
    refresher: Any = None  # service.exchange.refresh.DirectoryRefresher

    def designate_official(self, *, by: str, official_id: str, name: str, email: str = "",
                           roles: list[str]) -> Any:
        """Designate an official; one who sends envelopes gets signing and encryption keys."""
        directory = self.directory.designate_official(by=by, official_id=official_id, name=name, email=email,
                                                      roles=roles)
        if "official" in roles:
            self.exchange.issue_official_keys(official_id, by)
            directory = self.directory.directory()
        return directory

    def audit_bundle(self, who: Any, case_id: Any = None, since: Any = None, until: Any = None,
                     purpose: str = "audit bundle") -> dict:
        """An audit bundle for an auditor, with the partners' node keys that cosigned checkpoints."""
        partners = self.directory.directory().partners
        witness_keys = {code: p["directory"]["node_key"] for code, p in partners.items() if p.get("directory")}
        return self.audit.bundle(who, witness_keys, case_id, since, until, purpose)

    def close(self) -> None:
        self.courier.http.close()
        self.store.close()


def client_tls_context(settings: Settings) -> ssl.SSLContext | bool:
    """TLS for calls to partner nodes: verify them, present our certificate when configured.

    An ``ssl.SSLContext`` with the chain loaded is passed to httpx (``verify=`` plus
    ``cert=`` would silently send no client certificate).
    """
    if not (settings.tls_ca or settings.tls_cert):
        return True
    context = ssl.create_default_context(cafile=str(settings.tls_ca) if settings.tls_ca else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.tls_cert:
        context.load_cert_chain(str(settings.tls_cert), str(settings.tls_key))
    return context


def build_node(settings: Settings, *, clock: Any = None, store: EventStore | None = None,
               http: httpx.Client | None = None, **_: Any) -> Node:
    clock = clock or SystemClock()
    store = store or EventStore(settings.store_url)
    agreements = Agreements()
    directory = DirectoryService(store, agreements, clock, settings.administration)
    keystore = KeyStore(settings.keys_dir, settings.key_passphrase)
    vault = store.mapper.vault or store.attach_vault(keystore.symmetric(PERSONAL_DATA_MASTER),
                                                     agreements.retention_days)
    exchange = ExchangeService(store, agreements, directory, clock, keystore, endpoint=settings.endpoint,
                               max_skew=timedelta(seconds=settings.envelope_max_skew_seconds),
                               unsafe_fault_exit_after_store=settings.unsafe_fault_exit_after_inbox_store)
    cases = CaseService(store, agreements, directory, clock, exchange)
    http = http or httpx.Client(timeout=10, verify=client_tls_context(settings))
    metrics = Metrics()
    limiter = RateLimiter(official=settings.rate_limit_official, partner=settings.rate_limit_partner, metrics=metrics)
    exchange.limiter = limiter
    exchange.vault = vault
    courier = Courier(store, exchange, clock, http, metrics=metrics, production=settings.environment == "production",
                      per_request=settings.courier_envelopes_per_request)
    audit = AuditService(AuditLog(store, f"cmaa-exchange/{settings.administration}"), keystore, agreements, clock,
                         settings.checkpoint_every_events, settings.checkpoint_every_seconds)
    exchange.witness = Witness(audit.log, directory, keystore, courier, clock)
    node = Node(settings, store, agreements, clock, directory, cases, exchange, courier, ConsentService(cases), audit,
                metrics, limiter, vault)
    node.dpo = DpoService(store, vault, cases, agreements, clock, metrics)
    node.refresher = exchange.refresher = DirectoryRefresher(exchange, clock, courier, metrics=metrics,
                                                             production=settings.environment == "production")
    metrics.attach(node)
    return node


def initialise(node: Node) -> str | None:
    """First run: create the directory, the node key and a first operator; return its token once.

    Later runs find the directory and return ``None``: the token is never shown again.
    Replicas starting together race here; the loser of the optimistic write sees
    the winner's directory and returns ``None``.
    """
    node.exchange.keystore.node_signing_key()
    try:
        directory = node.directory.ensure(node.settings.administration_name)
        if FIRST_OPERATOR in directory.officials:
            return None
        node.directory.designate_official(by="first-run", official_id=FIRST_OPERATOR, name="First operator",
                                          email="", roles=["operator"])
    except (ConcurrentUpdate, InvalidInput):
        # Another replica designated the first operator between our read and our write
        # (InvalidInput: "already designated", seen on a fresh directory read).
        return None
    return node.directory.issue_credential(by="first-run", official_id=FIRST_OPERATOR)
