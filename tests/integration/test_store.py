"""The event store on real SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from adapters.store import EventStore, StoreConfigError, _patiently, env_for_url, store_busy
from domain.directory import Directory
from domain.errors import ConcurrentUpdate


def test_sqlite_url_selects_the_native_recorder(tmp_path):
    env = env_for_url(f"sqlite:///{tmp_path}/x/cmaa.db")
    assert env["PERSISTENCE_MODULE"] == "adapters.store:SQLiteFactory"  # the library's, with `synchronous`
    assert env["SQLITE_DBNAME"] == f"{tmp_path}/x/cmaa.db"
    assert (tmp_path / "x").is_dir()


def test_postgres_url_selects_the_native_recorder_and_schema():
    env = env_for_url("postgresql://alice:s3cret@db.internal:6543/cmaa?schema=node_no")
    assert env["PERSISTENCE_MODULE"] == "adapters.store_faults:PostgresFactory"  # bounded waits
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"], env["POSTGRES_DBNAME"]) == ("db.internal", "6543", "cmaa")
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], env["POSTGRES_SCHEMA"]) == ("alice", "s3cret", "node_no")


def test_sqlalchemy_recorders_are_selectable_for_measurement():
    env = env_for_url("postgresql+sqlalchemy://u@h/db")
    assert env["PERSISTENCE_MODULE"] == "eventsourcing_sqlalchemy"
    assert env["SQLALCHEMY_URL"].startswith("postgresql+psycopg://")


@pytest.mark.parametrize("query, level", [("", 2), ("?synchronous=full", 2), ("?synchronous=NORMAL", 1)])
def test_every_sqlite_connection_commits_as_synchronously_as_the_url_says(tmp_path, query, level):
    """Default FULL: a commit is flushed to disk before it is acknowledged; NORMAL only if asked."""
    store = EventStore(f"sqlite:///{tmp_path / 'cmaa.db'}{query}")
    store.commit(Directory(administration="NO", name="Norway"))
    for commit in (False, True):  # reader and writer connections alike
        with store.recorder.datastore.transaction(commit=commit) as cursor:
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == level
    store.close()
    assert (tmp_path / "cmaa.db").is_file()  # the query is not part of the file name


@pytest.mark.parametrize("url", ["mysql://x/y", "not a url", "sqlite://", "sqlite:///x.db?synchronous=off"])
def test_unsupported_urls_are_refused_with_the_setting_named(url):
    with pytest.raises(StoreConfigError, match="CMAA_DATABASE_URL"):
        env_for_url(url)


def test_sqlite_store_runs_in_wal_mode(tmp_path):
    store = EventStore(f"sqlite:///{tmp_path / 'cmaa.db'}")
    store.commit(Directory(administration="NO", name="Norway"))
    store.close()
    with sqlite3.connect(tmp_path / "cmaa.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_stale_writer_gets_concurrent_update_and_the_store_keeps_the_first(store_url):
    first, second = EventStore(store_url), EventStore(store_url)
    try:
        directory = Directory(administration="NO", name="Norway")
        first.commit(directory)
        a, b = first.load(directory.id), second.load(directory.id)
        a.designate_official(official_id="a", name="A", email="", roles=["official"], by="t", at=directory.created_on)
        b.designate_official(official_id="b", name="B", email="", roles=["official"], by="t", at=directory.created_on)
        first.commit(a)
        with pytest.raises(ConcurrentUpdate):
            second.commit(b)
        assert set(second.load(directory.id).officials) == {"a"}
    finally:
        first.close()
        second.close()


def test_events_survive_reopening_the_store(store_url):
    store = EventStore(store_url)
    directory = Directory(administration="NO", name="Norway")
    store.commit(directory)
    store.close()
    reopened = EventStore(store_url)
    try:
        assert reopened.load(directory.id).name == "Norway"
    finally:
        reopened.close()


@pytest.mark.postgres
def test_opening_a_store_beside_a_busy_node_runs_no_ddl_and_cannot_deadlock(pg_url):
    """A CLI command or a replica opening the store while a node's transaction holds the
    outbox and is about to lock the events table: the second store must not take table
    locks (it did, with CREATE INDEX IF NOT EXISTS, and one of the two died of a deadlock)."""
    import threading

    import psycopg

    first = EventStore(pg_url)
    base, schema = pg_url.split("?schema=")
    with psycopg.connect(base) as node:  # a node's transaction, half-way through a commit
        node.execute(f'INSERT INTO "{schema}".cmaa_outbox (envelope_id, case_id, partner, kind, payload, status, '
                     "attempts, next_attempt_at, sent_digests, created_at) "
                     "VALUES ('e', 'c', 'JP', 'request', '{}', 'pending', 0, 0, '[]', 0)")
        opened = []
        second = threading.Thread(target=lambda: opened.append(EventStore(pg_url)))
        second.start()
        second.join(timeout=5)
        assert opened, "opening the store waited for the node's transaction"
        node.execute(f'LOCK TABLE "{schema}".{first.recorder.events_table_name} IN EXCLUSIVE MODE')
        node.rollback()
    second.join(timeout=30)
    for store in [first, *opened]:
        store.close()


def _busy(code: int) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError("database is locked")
    error.sqlite_errorcode = code
    return error


def test_a_locked_statement_is_tried_again_until_it_runs():
    calls = []

    def statement():
        calls.append(1)
        if len(calls) < 4:
            raise _busy(sqlite3.SQLITE_BUSY)
        return "ran"

    assert _patiently(statement, (), {}, timeout=10) == "ran"
    assert len(calls) == 4


@pytest.mark.parametrize("error", [_busy(sqlite3.SQLITE_BUSY_SNAPSHOT), sqlite3.OperationalError("no such table: x")])
def test_a_stale_snapshot_or_another_error_is_not_waited_on(error):
    calls = []

    def statement():
        calls.append(1)
        raise error

    with pytest.raises(sqlite3.OperationalError):
        _patiently(statement, (), {}, timeout=10)
    assert len(calls) == 1


def test_a_sqlite_writer_waits_its_turn_while_another_process_holds_the_write_lock(tmp_path):
    path = tmp_path / "cmaa.db"
    store = EventStore(f"sqlite:///{path}")
    store.commit(Directory(administration="NO", name="Norway"))
    with store.recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] == 0  # the store waits in short steps itself, not in SQLite's busy handler
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)  # another process: courier, CLI
    other.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.3, other.commit)
    release.start()
    directory = Directory(administration="JP", name="Japan")
    store.commit(directory)  # waits for the lock, then commits
    release.join()
    assert store.load(directory.id).administration == "JP"
    other.close()


def test_a_sqlite_writer_gives_up_after_the_lock_timeout_and_stores_nothing(tmp_path):
    path = tmp_path / "cmaa.db"
    store = EventStore(f"sqlite:///{path}", extra_env={"SQLITE_LOCK_TIMEOUT": "1"})
    store.commit(Directory(administration="NO", name="Norway"))
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    directory = Directory(administration="JP", name="Japan")
    with pytest.raises(Exception) as caught:
        store.commit(directory)
    assert store_busy(caught.value)
    other.rollback()
    other.close()
    assert not store.exists(directory.id)
    later = Directory(administration="SE", name="Sweden")
    store.commit(later)  # the store works again once the lock is free
    assert store.exists(later.id)


@pytest.mark.postgres
def test_a_commit_on_postgresql_waits_for_the_events_table_lock_at_most_the_lock_timeout(pg_url):
    """The lock timeout (10 s) is the connections' own, not a statement in every commit (the library's
    ``SET LOCAL``): a commit is the table lock and the inserts. A commit that waits for the table past it
    fails as a busy store and stores nothing."""
    import psycopg

    store = EventStore(pg_url, extra_env={"POSTGRES_LOCK_TIMEOUT": "1"})
    try:
        with store.recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute("SHOW lock_timeout")
            assert list(cursor.fetchone().values()) == ["1s"]
        statements: list[str] = []
        execute = psycopg.Cursor.execute
        psycopg.Cursor.execute = lambda self, query, *a, **k: statements.append(
            query if isinstance(query, str) else bytes(query).decode()) or execute(self, query, *a, **k)
        try:
            store.commit(Directory(administration="NO", name="Norway"))
        finally:
            psycopg.Cursor.execute = execute
        assert statements and not any("lock_timeout" in s for s in statements), statements
        assert any(s.startswith("LOCK TABLE") for s in statements)

        base, schema = pg_url.split("?schema=")
        with psycopg.connect(base) as other:  # another writer holds the events table
            other.execute(f'LOCK TABLE "{schema}".{store.recorder.events_table_name} IN EXCLUSIVE MODE')
            directory = Directory(administration="JP", name="Japan")
            with pytest.raises(Exception) as caught:
                store.commit(directory)
            assert "lock timeout" in str(caught.value)
            other.rollback()
        assert not store.exists(directory.id)
    finally:
        store.close()


@pytest.mark.postgres
def test_a_statement_on_its_own_is_its_own_transaction_on_postgresql(pg_url, monkeypatch):
    """On the courier's and the inbox's paths, one statement alone (an outbox or inbox read, an attempt
    recorded, the latest checkpoint, a data key opened) runs on the pool's autocommit connection: one
    round trip, not BEGIN, the statement and COMMIT (an exchange made ~14 such trips). Rows read the same."""
    import secrets

    import psycopg

    from adapters.audit_log import AuditLog
    from adapters.exchange_tables import outbox_row

    store = EventStore(pg_url)
    try:
        vault = store.attach_vault(secrets.token_bytes(32), lambda agreement: 30)
        store.exchange._run("INSERT INTO {p}cmaa_outbox (envelope_id, case_id, partner, kind, payload, status, "
                            "attempts, next_attempt_at, sent_digests, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            tuple(outbox_row(envelope_id="e1", case_id="c1", partner="JP", kind="request",
                                             payload={})[k] for k in ("envelope_id", "case_id", "partner", "kind",
                                                                      "payload", "status", "attempts",
                                                                      "next_attempt_at", "sent_digests", "created_at")))
        key_id, _ = vault._new_key("subject", "c1", "2026-12-31")
        transactions = []
        begin = psycopg.Connection.transaction
        monkeypatch.setattr(psycopg.Connection, "transaction", lambda self, *a, **k: transactions.append(1) or
                            begin(self, *a, **k))

        store.exchange.record_attempt("e1", "nobody", ["digest"])  # not leased by "nobody": changes nothing
        assert store.exchange.get("e1")["case_id"] == "c1" and store.exchange.inbox_get("e1") is None
        assert AuditLog(store, "o").latest_checkpoint() is None
        assert [k["key_id"] for k in vault.keys(key_ids=[key_id])] == [key_id]
        assert transactions == []
    finally:
        store.close()
