"""The event store: the eventsourcing library, its recorder chosen from a URL.

``sqlite:///path``          native SQLite recorder (WAL), the embedded default;
                            ``?synchronous=normal`` trades durability against
                            power loss for speed (see ``SQLiteFactory`` below)
``postgresql://u:p@h:p/db`` native PostgreSQL recorder (psycopg 3); ``?schema=``
                            selects a schema
``sqlite+sqlalchemy:///``,  the eventsourcing-sqlalchemy recorders, kept for the
``postgresql+sqlalchemy://`` measurement in ``bench/store_backends.py``

The native recorders measured faster on both back ends (see the README), so
they are the ones the node uses by default.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, PersistenceError, StoredEvent
from eventsourcing.sqlite import SQLiteConnection, SQLiteConnectionPool, SQLiteCursor
from eventsourcing.sqlite import SQLiteFactory as LibrarySQLiteFactory
from sqlalchemy.engine import make_url

from adapters.idempotency_keys import marker as idempotency_marker
from adapters.store_faults import StoreGate, check_deadline, note_write, pipeline_aborted, store_unavailable
from domain.errors import ConcurrentUpdate, NotFound

A = TypeVar("A", bound=Aggregate)


class StoreConfigError(ValueError):
    """The database URL cannot be turned into a store configuration."""


def env_for_url(url: str) -> dict[str, str]:
    """Translate a database URL into the eventsourcing library's environment."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError with a clear message
        raise StoreConfigError(f"CMAA_DATABASE_URL is not a database URL: {exc}") from None
    backend, _, driver = parsed.drivername.partition("+")
    if driver == "sqlalchemy":
        plain = parsed.set(drivername="postgresql+psycopg" if backend == "postgresql" else backend)
        return {
            "PERSISTENCE_MODULE": "eventsourcing_sqlalchemy",
            "SQLALCHEMY_URL": plain.render_as_string(hide_password=False),
        }
    if backend == "sqlite":
        database = parsed.database or ""
        if not database:
            raise StoreConfigError("CMAA_DATABASE_URL: sqlite URLs name a file, e.g. sqlite:///var/cmaa/cmaa.db")
        if database != ":memory:":
            try:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreConfigError(f"CMAA_DATABASE_URL: cannot create the directory of {database}: "
                                       f"{error.strerror}") from None
        synchronous = str(parsed.query.get("synchronous", "full")).lower()
        if synchronous not in SYNCHRONOUS:
            raise StoreConfigError("CMAA_DATABASE_URL: ?synchronous= is full (the default: a commit is on disk "
                                   "before it is acknowledged) or normal (faster; see the README)")
        return {"PERSISTENCE_MODULE": "adapters.store:SQLiteFactory", "SQLITE_DBNAME": database,
                "SQLITE_LOCK_TIMEOUT": "10", "SQLITE_SYNCHRONOUS": synchronous,
                "APPLICATION_RECORDER_TOPIC": "adapters.recorders:CmaaSQLiteRecorder"}
    if backend in ("postgresql", "postgres"):
        env = {
            # Bounded waits and quick reconnection (adapters/store_faults.py)
            "PERSISTENCE_MODULE": "adapters.store_faults:PostgresFactory",
            "POSTGRES_DBNAME": parsed.database or "postgres",
            "POSTGRES_HOST": parsed.host or "127.0.0.1",
            "POSTGRES_PORT": str(parsed.port or 5432),
            "POSTGRES_USER": parsed.username or "postgres",
            "POSTGRES_PASSWORD": parsed.password or "",
            "POSTGRES_CONNECT_TIMEOUT": "2",  # the wait for a pooled connection
            "CMAA_PG_CONNECT_TIMEOUT": str(parsed.query.get("connect_timeout", "3")),
            "CMAA_PG_STATEMENT_TIMEOUT": str(parsed.query.get("statement_timeout", "15")),
            "POSTGRES_POOL_SIZE": str(parsed.query.get("pool_size", "5")),
            "POSTGRES_LOCK_TIMEOUT": "10",
            "APPLICATION_RECORDER_TOPIC": "adapters.recorders:CmaaPostgresRecorder",
        }
        schema = parsed.query.get("schema")
        if schema:
            env["POSTGRES_SCHEMA"] = str(schema)
        return env
    raise StoreConfigError(
        f"CMAA_DATABASE_URL: unsupported database {backend!r}; use sqlite:///... or postgresql://..."
    )


SYNCHRONOUS = ("full", "normal")


def _patiently(call, args, kwargs, timeout: float):
    """Run a statement; while another connection holds the write lock, try again in short
    steps (0.1 ms, growing to 2 ms) until ``timeout`` (``SQLITE_LOCK_TIMEOUT``).

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25 ms ... between tries, much
    longer than a write transaction here takes (~0.2 ms). A writer in another process —
    the courier beside the API — slept through release after release while the API's
    writers, queued in-process, took the lock again at once: the courier delivered
    60–90 envelopes/s while the API accepted 180/s (`bench/exchange.py`, README)."""
    delay, deadline = 0.0001, None
    while True:
        try:
            return call(*args, **kwargs)
        except sqlite3.OperationalError as error:
            # SQLITE_BUSY only: SQLITE_BUSY_SNAPSHOT (a stale read snapshot) cannot succeed by waiting
            if getattr(error, "sqlite_errorcode", None) not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_BUSY_RECOVERY):
                raise
            now = time.monotonic()
            deadline = deadline or now + timeout
            if now >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 1.5, 0.002)


def store_busy(error: BaseException) -> bool:
    """The store stayed locked by another writer for the whole lock timeout (SQLite)."""
    return isinstance(error, (PersistenceError, sqlite3.OperationalError)) and "database is locked" in str(error)


class _PatientCursor(SQLiteCursor):
    def __init__(self, sqlite_cursor: sqlite3.Cursor, timeout: float, connection: "_PatientConnection"):
        super().__init__(sqlite_cursor)
        self.timeout = timeout
        self.connection = connection

    def execute(self, *args: Any, **kwargs: Any) -> None:
        self.connection.patiently(self.sqlite_cursor.execute, args, kwargs)

    def executemany(self, *args: Any, **kwargs: Any) -> None:
        self.connection.patiently(self.sqlite_cursor.executemany, args, kwargs)


class _PatientConnection(SQLiteConnection):
    timeout: float = 10.0

    def cursor(self) -> SQLiteCursor:
        return _PatientCursor(self._sqlite_conn.cursor(), self.timeout, self)

    def commit(self) -> None:
        self.patiently(self._sqlite_conn.commit, (), {})

    def patiently(self, call, args, kwargs):
        try:
            return _patiently(call, args, kwargs, self.timeout)
        except sqlite3.Error as error:
            if store_unavailable(error):
                # Not back to the pool: a connection opened while the file could not be written
                # is read-only for good, and one that met an I/O error may hold a stale view.
                self._closing.set()
            raise


class _SynchronousPool(SQLiteConnectionPool):
    def __init__(self, synchronous: str, **kwargs: Any):
        super().__init__(**kwargs)
        self.synchronous = synchronous

    def _create_connection(self):
        connection = super()._create_connection()
        if not self.is_sqlite_memory_mode:
            connection._sqlite_conn.execute(f"PRAGMA synchronous = {self.synchronous.upper()}")
            # Waiting for another writer is ours (``_patiently``), not SQLite's busy handler.
            connection._sqlite_conn.execute("PRAGMA busy_timeout = 0")
            connection.__class__ = _PatientConnection
            connection.timeout = float(self.lock_timeout or 10)
            if not os.access(self.db_name, os.W_OK):
                connection._closing.set()  # opened read-only: serve this use, then let it go
        return connection


class SQLiteFactory(LibrarySQLiteFactory):
    """The library's SQLite factory, with the ``synchronous`` setting of every connection.

    ``full`` (default): each commit is flushed to disk (fsync of the WAL) before it
    returns, so what the node acknowledged survives a power loss or an OS crash.
    ``normal``: in WAL mode a commit is written but flushed only at checkpoints —
    every acknowledged commit survives the node process crashing or being killed,
    but the latest ones can be lost if the machine loses power. Measured ~23 % more
    full exchanges/s (README, *Exchange performance*)."""

    def __init__(self, env):
        super().__init__(env)
        synchronous = (self.env.get("SQLITE_SYNCHRONOUS") or "full").lower()
        pool = self.datastore.pool
        self.datastore.pool = _SynchronousPool(synchronous, db_name=pool.db_name, lock_timeout=pool.lock_timeout)
        pool.close()


class EventStore(Application):
    """One application per node: every aggregate of the node, one notification log."""

    name = "cmaa"

    def __init__(self, url: str, extra_env: dict[str, Any] | None = None):
        env = {"CREATE_TABLE": "y", **env_for_url(url), **(extra_env or {})}
        if env.get("SQLITE_DBNAME") not in (None, ":memory:"):
            from adapters.permissions import private_sqlite

            private_sqlite(Path(env["SQLITE_DBNAME"]))  # mode 0600: the store is the node's alone
        self.url = url
        super().__init__(env=env)
        self._tables = None
        self.gate = StoreGate()  # fail fast for a moment after a store failure

    @property
    def exchange(self):
        """The outbox and inbox (native recorders only)."""
        if self._tables is None:
            from adapters.exchange_tables import ExchangeTables

            self._tables = ExchangeTables(self.recorder)
        return self._tables

    def construct_mapper(self):
        from adapters.vault import SealingMapper

        return self.factory.mapper(transcoder=self.construct_transcoder(), mapper_class=SealingMapper)

    def attach_vault(self, master_key: bytes, retention_days) -> Any:
        """Seal personal data from now on (``adapters/vault.py``); returns the vault."""
        from adapters.vault import Vault

        transcoder = self.mapper.transcoder
        vault = Vault(self.recorder, master_key, encode=lambda v: transcoder.encode({"v": v}),
                      decode=lambda b: transcoder.decode(b)["v"], retention_days=retention_days)
        self.mapper.vault = vault
        return vault

    def load(self, aggregate_id: UUID, not_found: Exception | None = None, *, sealed: bool = False) -> Any:
        """The aggregate as stored now; ``sealed``: with its personal data left sealed, for a
        command that appends an event without personal data and never shows the state."""
        try:
            if sealed:
                from adapters.vault import reading_sealed

                with reading_sealed():
                    return self.repository.get(aggregate_id)
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise (not_found or NotFound(f"nothing stored under id {aggregate_id}")) from None

    def _record(self, processing_event):
        # Several events (a batch of inbound envelopes): their personal data sealed in one vault transaction.
        mapper = self.mapper
        if getattr(mapper, "vault", None) is not None and len(processing_event.events) > 1:
            with mapper.mapped_ahead(processing_event.events):
                return super()._record(processing_event)
        return super()._record(processing_event)

    def remembering(self):
        """A block in which the vault looks each subject and key up once (``Vault.remembering``)."""
        vault = getattr(self.mapper, "vault", None)
        return vault.remembering() if vault is not None else contextlib.nullcontext()

    def exists(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self.repository

    def newer_events(self, since: dict[UUID, int]) -> dict[UUID, list]:
        """The events of several aggregates after the versions given (aggregate id -> version), read in
        one statement: what an authentication asks of its credential and of the directory at once."""
        if not since:
            return {}
        tables = self.exchange
        table = self.recorder.events_table_name
        where = " OR ".join(["(originator_id = ? AND originator_version > ?)"] * len(since))
        # The library's SQLite recorder stores an id as its hex digits; PostgreSQL's as a uuid.
        params = tuple(value for aggregate_id, version in since.items()
                       for value in ((aggregate_id if tables.postgres else aggregate_id.hex), version))
        rows = tables._run(f"SELECT originator_id, originator_version, topic, state FROM {{p}}{table} WHERE {where} "
                           "ORDER BY originator_version", params, fetch=True)
        found: dict[UUID, list] = {aggregate_id: [] for aggregate_id in since}
        for row in rows:
            originator_id = row["originator_id"]
            event = self.mapper.to_domain_event(StoredEvent(
                originator_id=originator_id if isinstance(originator_id, UUID) else UUID(originator_id),
                originator_version=row["originator_version"],
                topic=row["topic"], state=bytes(row["state"])))
            found[event.originator_id].append(event)
        return found

    def commit(self, *aggregates: Aggregate, outbox: tuple[dict, ...] | list[dict] = (),
               inbox: dict | list[dict] | None = None, outcome: tuple[str, tuple] | None = None,
               outcomes: tuple[tuple[str, tuple], ...] | list[tuple[str, tuple]] = ()) -> int:
        """Store the pending events of ``aggregates`` atomically, with any outbox rows,
        inbox row(s) and outbox outcome(s) (``exchange_tables.outcome_update``) in the same
        transaction; return the last notification id."""
        check_deadline()  # the client may have given up: begin no write past the request's bound
        # A request with an Idempotency-Key: its key is marked committed in this same transaction.
        outcomes = [statement for statement in (outcome, *outcomes, idempotency_marker()) if statement]
        try:
            recordings = self.save(*aggregates, outbox=tuple(outbox), inbox=inbox, outcome=outcomes)
        except IntegrityError:
            # Another writer stored the same version first (optimistic concurrency).
            raise ConcurrentUpdate(
                "the record changed while this command ran; read it again and retry"
            ) from None
        except Exception as error:
            if not pipeline_aborted(error):
                raise
            # PostgreSQL runs the transaction's statements as one pipeline: a uniqueness violation of an
            # earlier one (another replica's inbox row or outbox row, first) surfaces as "pipeline aborted".
            raise ConcurrentUpdate("the record changed while this command ran; read it again and retry") from None
        note_write()
        return recordings[-1].notification.id if recordings else 0

    def notifications(self, start: int, limit: int, topics: tuple[str, ...] = ()):
        return self.recorder.select_notifications(start, limit, topics=topics)
