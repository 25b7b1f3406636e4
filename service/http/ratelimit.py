"""Rate limits per official (API calls) and per partner administration (inbound envelopes).

Moving windows from the ``limits`` library, kept in the process's memory: with
several replicas behind a balancer each enforces its own share (document the
per-process figure when sizing). A refusal is a 429 problem+json with
``Retry-After``; nothing is stored for a refused call.
"""

from __future__ import annotations

import math
import threading
import time

from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter


class QuietMemoryStorage(MemoryStorage):
    """``limits``' in-memory storage, dropping expired entries once a second.

    The library starts a timer thread 10 ms after every hit that finds none running, to drop
    expired entries: at a hundred envelopes a second that is a new thread and a copy of the
    window's entries for nearly every hit, ~8 % of a receiving node's CPU (bench/exchange.py,
    docs/performance.md). Expired entries are only memory: the moving window compares each hit
    with the entry ``limit`` places back, by its time, so dropping them later changes no answer."""

    EXPIRE_EVERY = 1.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # the library's private hook, locked version
        if not self.timer.is_alive():
            self.timer = threading.Timer(self.EXPIRE_EVERY, self._MemoryStorage__expire_events)
            self.timer.daemon = True
            self.timer.start()


class RateLimited(Exception):
    def __init__(self, limit: str, rate: str, retry_after: int):
        super().__init__(f"rate limit {rate} per {limit} exceeded; retry after {retry_after} s")
        self.limit, self.rate, self.retry_after = limit, rate, retry_after


class RateLimiter:
    def __init__(self, *, official: str, partner: str, metrics=None):
        self.strategy = MovingWindowRateLimiter(QuietMemoryStorage())
        self.rates = {"official": parse_many(official), "partner": parse_many(partner)}
        self.metrics = metrics

    def hit(self, limit: str, key: str) -> None:
        """Count one call by ``key`` against ``limit``; raise :class:`RateLimited` when over."""
        for rate in self.rates[limit]:
            if not self.strategy.hit(rate, limit, key):
                reset, _ = self.strategy.get_window_stats(rate, limit, key)
                if self.metrics is not None:
                    self.metrics.rate_limited.labels(limit).inc()
                raise RateLimited(limit, str(rate), max(1, math.ceil(reset - time.time())))
