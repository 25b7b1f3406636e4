"""Partners' signed directories, fetched from their endpoints: on a schedule, and when the inbox meets a signing
key it does not know from a registered partner (docs/envelope-format.md §5). A fetched directory is verified as
a manual import is — the node key against the fingerprint pinned at the first import, then the signature — and
held only if it is newer than the one held (rollback protection) and says something new. Every attempt's outcome
is kept per partner for the operator (``GET /exchange/partners/directories``, ``cmaa partners list``, the
console's operations page); a refusal (another node key, a bad signature, an older directory) also stays shown
after later attempts, and is logged as an error."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from adapters.directory_refresh import DirectoryRefreshRecords
from domain.errors import ConcurrentUpdate, DomainError
from service.ops.periodic import Periodic

log = logging.getLogger("cmaa.directory")
REFRESHER = "directory-refresh"
OK = ("imported", "unchanged")
MAX_DIRECTORY_BYTES = 1_048_576


class Refused(Exception):
    """The partner served a directory that must not be held (another key, bad signature, rollback)."""


class Failed(Exception):
    """No directory could be fetched (no endpoint, unreachable, an HTTP error)."""


@dataclass
class DirectoryRefresher:
    """``http``: the client to partner nodes (TLS configured); ``None`` uses the courier's, so that tests that
    connect two in-process nodes (``tests/exchange_helpers.py``) reach the partner through the same client."""

    exchange: Any  # service.exchange.service.ExchangeService
    clock: Any
    courier: Any = None
    http: Any = None
    production: bool = False
    timeout: float = 5.0
    on_demand_every: float = 60.0  # seconds between refreshes one process makes on unknown senders, per partner
    metrics: Any = None
    _last_on_demand: dict = field(default_factory=dict, repr=False)
    _locks: dict = field(default_factory=dict, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def records(self) -> DirectoryRefreshRecords:
        return DirectoryRefreshRecords(self.exchange.store.recorder)

    # == triggers =========================================================================
    def refresh_all(self) -> dict[str, str]:
        """The scheduled refresh: every registered partner whose directory we hold (its node key is pinned)."""
        partners = self.exchange.directory.directory().partners
        return {code: self.refresh(code, "scheduled")["outcome"]
                for code, partner in sorted(partners.items()) if partner.get("directory")}

    def on_unknown_sender(self, administration: Any) -> dict | None:
        """The inbox met a signing key it does not know, in an envelope that claims to come from
        ``administration``. Refresh that partner's directory if it is a registered partner whose directory we
        hold, at most once per ``on_demand_every`` seconds; a concurrent caller waits for the refresh under way.
        Returns the outcome of the latest such refresh (the caller reads the directory again), or ``None``.
        Nothing is fetched for anyone else: the claim is unverified, so the inbox must not become a way to make
        this node fetch at will."""
        partner = self.exchange.directory.directory().partners.get(administration) \
            if isinstance(administration, str) else None
        if not partner or not partner.get("directory"):
            return None
        with self._guard:
            lock = self._locks.setdefault(administration, threading.Lock())
        with lock:
            last = self._last_on_demand.get(administration)
            if last is not None and time.monotonic() - last[0] < self.on_demand_every:
                return last[1]  # a refresh just ran (perhaps for a concurrent envelope): read what it held
            self._last_on_demand[administration] = (time.monotonic(), {"outcome": "failed", "detail": "under way"})
            row = self.refresh(administration, "unknown-sender")
            self._last_on_demand[administration] = (self._last_on_demand[administration][0], row)
        return row

    # == one refresh ======================================================================
    def refresh(self, administration: str, trigger: str = "operator") -> dict:
        """Fetch, verify and perhaps hold one partner's directory; record and return the outcome. Never raises."""
        now = self.clock.now().isoformat()
        row = {"partner": administration, "attempted_at": now, "trigger": trigger}
        try:
            outcome, detail, issued_at = self._refresh(administration)
            row.update(outcome=outcome, detail=detail, issued_at=issued_at, succeeded_at=now)
        except Refused as refusal:
            row.update(outcome="refused", detail=str(refusal), refused_at=now, refused_detail=str(refusal))
            log.error("partner directory refused", extra={"partner": administration, "trigger": trigger,
                                                          "reason": str(refusal)})
        except Failed as failure:
            row.update(outcome="failed", detail=str(failure))
            log.warning("partner directory not refreshed", extra={"partner": administration, "trigger": trigger,
                                                                  "reason": str(failure)})
        except Exception as error:  # noqa: BLE001 - a refresh never takes the inbox or the node down
            row.update(outcome="failed", detail=f"internal error ({type(error).__name__})")
            log.exception("partner directory refresh failed", extra={"partner": administration})
        try:
            self.records.record(**row)
        except Exception:  # noqa: BLE001 - the store is down: the log line above says what happened
            log.exception("could not record the directory refresh", extra={"partner": administration})
        if self.metrics is not None:
            self.metrics.directory_refreshes.labels(administration, row["outcome"]).inc()
        return row

    def _refresh(self, administration: str) -> tuple[str, str, str]:
        exchange = self.exchange
        directory = exchange.directory.directory()
        partner = directory.partners.get(administration)
        if partner is None:
            raise Failed(f"{administration} is not a registered partner")
        held = partner.get("directory")
        if not held:
            raise Failed("no directory imported yet: import one by hand first, to pin the partner's node key")
        token = self._fetch(partner.get("endpoint"))
        try:
            document, node_key = exchange.verify_partner_directory(token, held["fingerprint"], administration)
            issued_at = datetime.fromisoformat(document["issued_at"])
            if issued_at < held["issued_at"]:
                raise Refused(f"rollback: the directory served was issued at {issued_at.isoformat()}, before the "
                              f"one held ({held['issued_at'].isoformat()})")
            if issued_at == held["issued_at"] or self._says_nothing_new(directory, administration, document):
                return "unchanged", "the directory held is current", issued_at.isoformat()
            exchange.store_partner_directory(token, document, node_key, held["fingerprint"], REFRESHER)
        except ConcurrentUpdate:
            raise Failed("the directory changed meanwhile; the next refresh tries again") from None
        except DomainError as error:
            raise Refused(str(error)) from None
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise Refused(f"not a well-formed directory ({type(error).__name__})") from None
        log.info("partner directory refreshed", extra={"partner": administration, "issued_at": issued_at.isoformat()})
        return "imported", f"officials: {', '.join(sorted(document['officials'])) or 'none'}", issued_at.isoformat()

    def _fetch(self, endpoint: str | None) -> str:
        if not endpoint:
            raise Failed("the partner has no endpoint")
        if self.production and not endpoint.startswith("https://"):
            raise Failed("the partner's endpoint is not HTTPS; production fetches over HTTPS only")
        client = self.http or self.courier.http
        try:
            response = client.get(f"{endpoint.rstrip('/')}/exchange/directory", timeout=self.timeout)
        except httpx.HTTPError as error:
            raise Failed(f"unreachable ({type(error).__name__})") from None
        if response.status_code != 200:
            raise Failed(f"HTTP {response.status_code} from the partner")
        if len(response.content) > MAX_DIRECTORY_BYTES:
            raise Failed("the partner's directory is larger than 1 MiB")
        return response.text

    @staticmethod
    def _says_nothing_new(directory: Any, administration: str, document: dict) -> bool:
        """The same officials, keys and endpoint as held: holding it would add an event and change nothing."""
        partner = directory.partners[administration]
        held_keys = {kid: k for kid, k in directory.partner_keys.items() if k["administration"] == administration}
        new_keys = {key["kid"]: {"administration": administration, "official": oid, "use": key["use"],
                                 "jwk": key["jwk"], "valid_from": key["valid_from"], "valid_until": key["valid_until"]}
                    for oid, o in document["officials"].items() for key in o["keys"]}
        held_officials = {oid: o["name"] for oid, o in partner["officials"].items() if o["active"]}
        new_officials = {oid: o["name"] for oid, o in document["officials"].items()}
        endpoint = document.get("endpoint")
        return (held_keys == new_keys and held_officials == new_officials
                and (not endpoint or endpoint == partner.get("endpoint")))

    # == what the operator sees ==============================================================
    def status(self) -> list[dict]:
        """Per registered partner: the directory held, the last refresh, our officials it does not know yet."""
        directory = self.exchange.directory.directory()
        records, unknown = self.records.all(), self.records.unknown_senders()
        found = []
        for code, partner in sorted(directory.partners.items()):
            held = partner.get("directory")
            found.append({
                "partner": code, "endpoint": partner.get("endpoint"),
                "held": {"issued_at": held["issued_at"].isoformat(), "digest": held["digest"],
                         "fingerprint": held["fingerprint"]} if held else None,
                "last_refresh": records.get(code), "unknown_officials": unknown.get(code, [])})
        return found


class RefreshThread(Periodic):
    """The scheduled refresh, every ``CMAA_DIRECTORY_REFRESH_SECONDS`` in the service."""

    name = "cmaa-directory-refresh"
    delay_first = False

    def __init__(self, refresher: DirectoryRefresher, interval: float):
        super().__init__(interval)
        self.refresher = refresher

    def tick(self) -> None:
        try:
            self.refresher.refresh_all()
        except Exception:  # noqa: BLE001 - logged; the next tick tries again
            log.exception("scheduled directory refresh failed")
