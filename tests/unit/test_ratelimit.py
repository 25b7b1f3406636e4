"""The rate limiter's storage: the library's moving window, with expired entries dropped once a second
instead of by a new timer thread after nearly every hit (service/http/ratelimit.py)."""

from __future__ import annotations

import pytest

from service.http.ratelimit import QuietMemoryStorage, RateLimited, RateLimiter


def test_the_library_calls_our_expiry_schedule_not_its_own():
    # If an upgrade of `limits` renames its private hook, the library's 10 ms timer comes back: fail here.
    limiter = RateLimiter(official="100/minute", partner="100/minute")
    storage = limiter.strategy.storage
    storage.timer.join()  # the library's first timer, started when the storage was made
    limiter.hit("partner", "JP")
    assert isinstance(storage, QuietMemoryStorage)
    assert storage.timer.interval == QuietMemoryStorage.EXPIRE_EVERY


def test_the_window_still_refuses_the_call_past_the_limit_and_counts_per_key():
    limiter = RateLimiter(official="3/minute", partner="100/minute")
    for _ in range(3):
        limiter.hit("official", "no-hansen")
    with pytest.raises(RateLimited) as refused:
        limiter.hit("official", "no-hansen")
    assert refused.value.retry_after >= 1
    limiter.hit("official", "no-berg")  # another official has a window of its own


def test_expired_entries_are_dropped_when_the_schedule_runs(monkeypatch):
    limiter = RateLimiter(official="5/second", partner="100/minute")
    for _ in range(5):
        limiter.hit("official", "no-hansen")
    storage = limiter.strategy.storage
    import limits.storage.memory as memory

    later = memory.time.time() + 5
    monkeypatch.setattr(memory.time, "time", lambda: later)
    storage._MemoryStorage__expire_events()
    assert not storage.events.get("LIMITER/official/no-hansen/5/1/second") and not any(storage.events.values())
    limiter.hit("official", "no-hansen")  # the window moved on: allowed again
