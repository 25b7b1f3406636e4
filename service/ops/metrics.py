"""Prometheus metrics of one node (``prometheus_client``; one registry per node).

Counters and histograms are updated where things happen (the request middleware,
the courier, the inbox); gauges about the store (outbox backlog, Merkle log,
checkpoints) are read from the database at scrape time by :class:`StoreCollector`,
so every replica reports the same backlog and nothing drifts.

Labels are bounded: route templates, partner administration codes, verification
steps and rejection codes — never an id, a path or a personal-data value.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger("cmaa.metrics")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._relayed: dict = {}  # (courier child, counter, labels) -> the value it last reported
        self._relay_lock = threading.Lock()
        r = self.registry
        self.requests = Counter("cmaa_http_requests", "API requests by route template and status",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("cmaa_http_request_duration_seconds", "API request latency by route template",
                                 ["method", "route"], buckets=LATENCY_BUCKETS, registry=r)
        self.deliveries = Counter("cmaa_deliveries", "Outbox delivery attempts by partner and outcome "
                                  "(delivered, rejected, retry)", ["partner", "outcome"], registry=r)
        self.delivery_rejections = Counter("cmaa_delivery_rejections", "Signed rejections received from partners, "
                                           "by partner, verification step and code", ["partner", "step", "code"],
                                           registry=r)
        self.delivery_retries = Counter("cmaa_delivery_retries", "Deliveries to be retried, by partner and reason",
                                        ["partner", "reason"], registry=r)
        self.inbound = Counter("cmaa_inbound_envelopes", "Envelopes received, by outcome (accepted, rejected)",
                               ["outcome"], registry=r)
        self.inbound_rejections = Counter("cmaa_inbound_rejections", "Inbound envelopes rejected, by "
                                          "verification step and code", ["step", "code"], registry=r)
        self.rate_limited = Counter("cmaa_rate_limited", "Requests answered 429, by limit (official, partner)",
                                    ["limit"], registry=r)
        self.sealer_passes = Counter("cmaa_sealer_passes", "Sealer passes by outcome (ok, failed)", ["outcome"],
                                     registry=r)
        self.retention_sweeps = Counter("cmaa_retention_sweeps", "Retention sweeps by outcome (ok, failed)",
                                        ["outcome"], registry=r)
        self.directory_refreshes = Counter("cmaa_directory_refreshes", "Refreshes of partners' signed directories, "
                                           "by partner and outcome (imported, unchanged, failed, refused)",
                                           ["partner", "outcome"], registry=r)
        self.retention_erased_keys = Counter("cmaa_retention_erased_keys", "Personal-data keys destroyed by the "
                                             "retention sweep (JP-NO Art. 9(2))", registry=r)

    def attach(self, node: Any) -> None:
        self.registry.register(StoreCollector(node))

    # -- the courier as a child process (service/exchange/courier_runners.py CourierProcess) -------------------
    RELAYED = ("deliveries", "delivery_rejections", "delivery_retries")

    def courier_report(self) -> dict:
        """This process's courier counters: ``{attribute: [[labels, value], ...]}``."""
        report = {}
        for attr in self.RELAYED:
            samples = getattr(self, attr).collect()[0].samples
            report[attr] = [[s.labels, s.value] for s in samples if s.name.endswith("_total")]
        return report

    def relay_courier_report(self, source: Any, report: dict) -> None:
        """Add what a courier child counted since its last report to this node's counters
        (so ``/metrics`` shows them, and they stay monotonic when a child is replaced)."""
        with self._relay_lock:
            for attr in self.RELAYED:
                counter = getattr(self, attr)
                for entry in report.get(attr, ()):
                    try:
                        labels, value = dict(entry[0]), float(entry[1])
                        key = (source, attr, tuple(sorted(labels.items())))
                        delta = value - self._relayed.get(key, 0.0)
                        if delta > 0:
                            counter.labels(**labels).inc(delta)
                            self._relayed[key] = value
                    except (TypeError, ValueError, IndexError):
                        log.warning("metrics: a malformed courier report entry was ignored")

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class StoreCollector:
    """Gauges read from the store at scrape time."""

    def __init__(self, node: Any):
        self.node = node

    def describe(self):
        return []

    def collect(self):
        try:
            yield from self._collect()
        except Exception as error:  # a scrape must not fail because the store is down; /readyz says so
            log.warning("metrics: store not readable (%s)", type(error).__name__)
            up = GaugeMetricFamily("cmaa_store_up", "1 if the store answered the last scrape")
            up.add_metric([], 0)
            yield up

    def _collect(self):
        node = self.node
        now = time.time()
        backlog = node.store.exchange.backlog()
        depth = GaugeMetricFamily("cmaa_outbox_depth", "Envelopes waiting for delivery, by partner",
                                  labels=["partner"])
        oldest = GaugeMetricFamily("cmaa_outbox_oldest_age_seconds", "Age of the oldest undelivered envelope, "
                                   "by partner", labels=["partner"])
        for partner, (count, first_ms) in sorted(backlog.items()):
            depth.add_metric([partner], count)
            oldest.add_metric([partner], max(0.0, now - first_ms / 1000))
        yield depth
        yield oldest
        status = node.audit.status()
        size = GaugeMetricFamily("cmaa_merkle_log_size", "Leaves in the node's Merkle log")
        size.add_metric([], status["log_size"])
        yield size
        lag = GaugeMetricFamily("cmaa_sealer_lag_events", "Events stored but not yet sealed into the log")
        lag.add_metric([], status["unsealed_events"])
        yield lag
        if status["checkpoint_at"] is not None:
            age = GaugeMetricFamily("cmaa_checkpoint_age_seconds", "Age of the latest signed checkpoint")
            age.add_metric([], max(0.0, now - status["checkpoint_at"]))
            yield age
        if status["witnessed_at"] is not None:
            age = GaugeMetricFamily("cmaa_witnessed_checkpoint_age_seconds", "Age of the latest checkpoint of "
                                    "ours that a partner cosigned")
            age.add_metric([], max(0.0, now - status["witnessed_at"]))
            yield age
        up = GaugeMetricFamily("cmaa_store_up", "1 if the store answered the last scrape")
        up.add_metric([], 1)
        yield up
