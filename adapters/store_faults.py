"""When the store misbehaves: bounded waits, fast failure, quick recovery.

* ``StoreUnavailable`` / ``store_unavailable(error)``: the store could not be reached or
  could not write (PostgreSQL down, reset, silent, or past its statement timeout; a SQLite
  file that cannot be written). The HTTP layer answers it ``503 store-unavailable`` with
  ``Retry-After``. A failed transaction is rolled back by the database: nothing of it stays.
* ``PostgresFactory``: the library's factory with every wait bounded — connecting
  (``connect_timeout``), unacknowledged sends to a silent server (``tcp_user_timeout``),
  idle connections (TCP keepalives), statements (``statement_timeout``), waiting for a lock
  (``lock_timeout``, ``POSTGRES_LOCK_TIMEOUT``: the connections' own, not one more statement in
  every commit as in the library), waiting for a pooled connection (``POSTGRES_CONNECT_TIMEOUT``)
  — and a pool that reconnects every ``RECONNECT_EVERY`` seconds while the server is away
  (psycopg_pool's own backoff doubles from 1 s and is why a node once needed ~22 s to notice
  PostgreSQL was back), and that drops a pooled connection whose server hung up while it sat
  idle, without a round trip.
* ``StoreGate``: after a store failure, requests fail fast for ``FAIL_FAST_SECONDS``
  instead of each waiting out the same timeout; the first request after that tries again.
"""

from __future__ import annotations

import contextvars
import select
import sqlite3
import threading
import time
from contextlib import contextmanager
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import PostgresFactory as LibraryPostgresFactory
from psycopg_pool import ConnectionPool
from psycopg_pool.base import AttemptWithBackoff

RECONNECT_EVERY = 0.5  # seconds between reconnection attempts while the server is away
FAIL_FAST_SECONDS = 1.0

# SQLite primary result codes that mean "this store cannot write (or open) now"
_SQLITE_DOWN = {sqlite3.SQLITE_IOERR, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_FULL,
                sqlite3.SQLITE_PERM}
_SQLITE_DOWN_TEXT = ("disk i/o error", "readonly database", "unable to open database", "database or disk is full")


class StoreUnavailable(Exception):
    """The store cannot be used now; nothing of the request was stored."""

    def __init__(self, detail: str = "the node's store did not answer or could not write"):
        super().__init__(detail)


def pipeline_aborted(error: BaseException | None) -> bool:
    """Whether ``error`` (or what caused it) is PostgreSQL's "pipeline aborted": an earlier statement of the
    same transaction failed — e.g. another replica inserted the same inbox row first — not an outage."""
    seen = 0
    while error is not None and seen < 8:
        if isinstance(error, psycopg.errors.PipelineAborted):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def store_unavailable(error: BaseException) -> bool:
    """Whether ``error`` (or what caused it) says the store is unreachable or cannot write."""
    if pipeline_aborted(error):
        return False
    seen = 0
    while error is not None and seen < 8:
        if isinstance(error, StoreUnavailable):
            return True
        if isinstance(error, sqlite3.OperationalError | sqlite3.DatabaseError):
            code = getattr(error, "sqlite_errorcode", None)
            if (code is not None and code & 0xFF in _SQLITE_DOWN) or any(
                    text in str(error).lower() for text in _SQLITE_DOWN_TEXT):
                return True
        elif isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
            return True  # connection refused, reset, timed out, pool timeout, statement/lock timeout
        elif isinstance(error, OperationalError | InterfaceError) and not isinstance(error.__cause__, sqlite3.Error):
            if "database is locked" not in str(error):
                return error.__cause__ is None or store_unavailable(error.__cause__)
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


class StoreGate:
    """Fail fast while the store is known to be down, for a short while after each failure."""

    def __init__(self, window: float = FAIL_FAST_SECONDS):
        self.window = window
        self.failed_at: float | None = None
        self.reason = ""

    def failed(self, error: BaseException) -> None:
        self.failed_at, self.reason = time.monotonic(), f"{type(error).__name__}: {str(error)[:200]}"

    def succeeded(self) -> None:
        self.failed_at = None

    def check(self) -> None:
        if self.failed_at is not None and time.monotonic() - self.failed_at < self.window:
            raise StoreUnavailable(f"the node's store failed {time.monotonic() - self.failed_at:.1f} s ago "
                                   f"({self.reason}); retry shortly")


class _SteadyAttempt(AttemptWithBackoff):
    def update_delay(self, now: float) -> None:
        super().update_delay(now)
        self.delay = min(self.delay, RECONNECT_EVERY)


class _QuickPool(ConnectionPool):
    def _add_connection(self, attempt, growing: bool = False) -> None:
        super()._add_connection(attempt or _SteadyAttempt(timeout=self.reconnect_timeout), growing)


def _hung_up_check(conn: psycopg.Connection) -> None:
    """Before a pooled connection is handed out: if anything arrived on it while it sat idle
    (the server or a proxy closed or reset it), check it with a round trip; else trust it."""
    if conn.closed or conn.pgconn.status != psycopg.pq.ConnStatus.OK:
        raise psycopg.OperationalError("the pooled connection is closed")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        ConnectionPool.check_connection(conn)


class PostgresFactory(LibraryPostgresFactory):
    """eventsourcing's PostgreSQL factory with bounded waits (module docstring)."""

    def __init__(self, env: Any):
        super().__init__(env)
        pool = self.datastore.pool
        connect = int(float(self.env.get("CMAA_PG_CONNECT_TIMEOUT") or 3))
        statement_ms = int(float(self.env.get("CMAA_PG_STATEMENT_TIMEOUT") or 15) * 1000)
        # The wait for a lock (the events table's in each commit, the courier's claim lock), set once per
        # connection, not by a statement of its own in every commit as the library does.
        lock_ms = int(float(self.env.get(self.POSTGRES_LOCK_TIMEOUT) or 0) * 1000)
        pool.kwargs.update(
            connect_timeout=max(connect, 2),  # libpq rounds anything below 2 s up to 2 s
            tcp_user_timeout=connect * 1000,  # a silent server: sends unacknowledged this long fail
            keepalives=1, keepalives_idle=5, keepalives_interval=1, keepalives_count=3,
            options=f"-c statement_timeout={statement_ms} -c lock_timeout={lock_ms}")
        pool.__class__ = _QuickPool
        pool.reconnect_timeout = 365 * 86400.0  # never give up a pool slot: keep trying every RECONNECT_EVERY
        pool._check = _hung_up_check
        self.datastore.get_connection = _failing_fast(self.datastore.get_connection)


def _failing_fast(get_connection):
    """The library retries a recorder call up to 10 times on OperationalError (each waiting out the
    pool's timeout: ~22 s before a request heard anything). A store that is down, silent or past a
    timeout is answered at once instead (``StoreUnavailable``, which the library does not retry):
    the client retries, with its Idempotency-Key."""

    @contextmanager
    def failing_fast():
        try:
            with get_connection() as connection:
                yield connection
        except (OperationalError, InterfaceError) as error:
            raise StoreUnavailable(f"PostgreSQL: {' '.join(str(error).split())[:300]}") from error
    return failing_fast


class ProbeConnection:
    """One connection of its own for /readyz, outside the pool (never queued behind API work)."""

    def __init__(self, kwargs: dict[str, Any]):
        self.kwargs = {k: v for k, v in kwargs.items() if k != "row_factory"}
        self.conn: psycopg.Connection | None = None
        self.lock = threading.Lock()

    def ping(self) -> None:
        with self.lock:
            try:
                if self.conn is None or self.conn.closed:
                    self.conn = psycopg.connect(**self.kwargs, autocommit=True)
                self.conn.execute("SELECT 1")
            except Exception:
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                raise


# --- how long a request may wait for the store ---------------------------------------------


class Ticket:
    """A request's bound on waiting for the store: ``deadline`` (``time.monotonic()``), and
    whether its work began (``start``) before the HTTP layer gave up on it (``expire``) — the
    two exclude each other, so a request is either refused having done nothing or runs."""

    def __init__(self, deadline: float):
        self.deadline = deadline
        self.state = "waiting"
        self.wrote = False  # a store write of the request committed (its answer may still fail)
        self.lock = threading.Lock()

    def start(self) -> bool:
        with self.lock:
            if self.state == "waiting" and time.monotonic() > self.deadline:
                self.state = "expired"
            if self.state == "expired":
                return False
            self.state = "started"
            return True

    def expire(self) -> bool:
        with self.lock:
            if self.state == "started":
                return False
            self.state = "expired"
            return True


_ticket: contextvars.ContextVar[Ticket | None] = contextvars.ContextVar("cmaa_store_ticket", default=None)


class StoreWaitExceeded(StoreUnavailable):
    """The request waited for the store (worker queue, lock) past its bound; nothing was stored."""


def set_ticket(ticket: Ticket | None) -> contextvars.Token:
    """From now on in this context (and the worker threads it hands work to)."""
    return _ticket.set(ticket)


def reset_ticket(token: contextvars.Token) -> None:
    _ticket.reset(token)


def begin_work() -> None:
    """On the worker thread, before a request touches the store: refuse it if it waited too long."""
    ticket = _ticket.get()
    if ticket is not None and not ticket.start():
        raise StoreWaitExceeded("the request waited past its bound for a worker thread "
                                "(CMAA_STORE_WAIT_SECONDS); nothing was done, retry")


def note_write() -> None:
    """A store write of the current request committed: a failure after it must not say
    "nothing was changed"."""
    ticket = _ticket.get()
    if ticket is not None:
        ticket.wrote = True


def check_deadline() -> None:
    """Before a store write begins: refuse it past the request's bound (its client may be gone)."""
    ticket = _ticket.get()
    if ticket is not None and time.monotonic() > ticket.deadline:
        raise StoreWaitExceeded(f"the request reached its store write {time.monotonic() - ticket.deadline:.1f} s "
                                "past its bound (CMAA_STORE_WAIT_SECONDS); nothing was stored, retry")
