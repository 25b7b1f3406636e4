"""What ``/readyz`` checks, each bounded by its own time limit and never queued behind API work.

The API runs its blocking work on ``CMAA_API_THREADS`` worker threads; when the store hangs,
they all wait on it, and a readiness check queued behind them would say nothing for as long
(a node once took 15 s to answer and 57 s to say 503). Here every check runs on a thread of
its own, concurrently, and the answer is given after ``BUDGET`` seconds whatever the checks
still do: a check that has not returned by then fails, "no answer within …". A check still
running from an earlier call is not started again (a silent store cannot pile up threads);
it fails with how long it has been waiting.

The store check uses no pooled connection: PostgreSQL is pinged on a connection of its own
(``adapters/store_faults.py`` ``ProbeConnection``), a SQLite file is opened and its write lock
taken and released (an unwritable file fails). A successful store check lets requests reach
the store again at once (``StoreGate``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from concurrent.futures import Future
from typing import Any, Callable

from sqlalchemy.engine import make_url

BUDGET = 0.8  # seconds: /readyz answers within a second


class BoundedChecks:
    def __init__(self):
        self.running: dict[str, tuple[Future, float]] = {}
        self.lock = threading.Lock()

    def _start(self, name: str, probe: Callable[[], tuple[bool, str]]) -> tuple[Future, float]:
        with self.lock:
            if name in self.running and not self.running[name][0].done():
                return self.running[name]
            future: Future = Future()

            def run():
                try:
                    future.set_result(probe())
                except Exception as error:  # a check that cannot run is a failed check, never a 500
                    future.set_result((False, f"{type(error).__name__}: {str(error)[:160]}"))

            threading.Thread(target=run, name=f"readyz-{name}", daemon=True).start()
            self.running[name] = (future, time.monotonic())
            return self.running[name]

    async def run(self, probes: dict[str, Callable[[], tuple[bool, str]]]) -> dict[str, dict[str, Any]]:
        started = {name: self._start(name, probe) for name, probe in probes.items()}
        futures = {name: asyncio.wrap_future(f) for name, (f, _) in started.items()}
        await asyncio.wait(futures.values(), timeout=BUDGET)
        results = {}
        for name, future in futures.items():
            if future.done():
                ok, detail = future.result()
            else:
                waited = time.monotonic() - started[name][1]
                subject = getattr(probes[name], "subject", "")
                ok, detail = False, f"{subject + ': ' if subject else ''}no answer within {waited:.1f} s"
            results[name] = {"ok": ok, "detail": detail}
        return results


def store_probe(store) -> Callable[[], tuple[bool, str]]:
    """The store answers (PostgreSQL) or can be written (SQLite), named in the detail."""
    url = make_url(store.url)
    backend = url.drivername.split("+")[0]
    if backend == "sqlite":
        path = url.database or ""
        name = f"SQLite {path}"

        last = [True]  # the last definite answer: a busy store is judged by it, not assumed writable

        def probe() -> tuple[bool, str]:
            if path == ":memory:":
                return True, name
            try:
                connection = sqlite3.connect(f"file:{path}?mode=rw", uri=True, timeout=0, isolation_level=None)
            except sqlite3.Error as error:
                last[0] = False
                return False, f"{name}: cannot open ({error})"
            try:
                # A real, tiny commit: taking the write lock alone succeeds on a file that cannot be
                # written (WAL mode locks in the -shm file); a commit must reach the -wal file.
                connection.execute("CREATE TABLE IF NOT EXISTS cmaa_readiness (id INTEGER PRIMARY KEY, at REAL)")
                connection.execute("INSERT OR REPLACE INTO cmaa_readiness VALUES (1, ?)", (time.time(),))
            except sqlite3.OperationalError as error:
                if "locked" in str(error):
                    # Another writer holds the lock: this probe cannot tell; the last one that could says.
                    state = "writable" if last[0] else "could not write at the last check"
                    return last[0], f"{name}: busy with another writer; {state}"
                last[0] = False
                return False, f"{name}: cannot write ({error})"
            finally:
                connection.close()
            last[0] = True
            store.gate.succeeded()
            return True, f"{name}: writable"
        probe.subject = name
        return probe

    from adapters.store_faults import ProbeConnection

    pool = getattr(getattr(store.factory, "datastore", None), "pool", None)
    where = f"PostgreSQL {url.host or '127.0.0.1'}:{url.port or 5432}/{url.database or 'postgres'}"
    connection = ProbeConnection(pool.kwargs) if pool is not None else None

    def ping() -> tuple[bool, str]:
        if connection is None:
            store.recorder.max_notification_id()
        else:
            connection.ping()
        store.gate.succeeded()
        return True, f"{where}: answering"

    def probe() -> tuple[bool, str]:
        try:
            return ping()
        except Exception as error:
            return False, f"{where}: {type(error).__name__}: {str(error).strip()[:160]}"
    probe.subject = where
    return probe
