"""The eventsourcing library's native recorders, extended with the node's own tables: ``EventStore.commit(case,
outbox=[...], inbox=...)`` writes the case's new events *and* the outbox/inbox rows in one transaction."""

from __future__ import annotations

import re
from typing import Any

import psycopg
from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError, ProgrammingError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from eventsourcing.utils import retry
from psycopg.sql import SQL

from adapters.sql import (MIGRATIONS, audit_tables, exchange_tables, insert_rows, migrate_postgres, migrate_sqlite,
                          vault_tables)


class CmaaSQLiteRecorder(SQLiteApplicationRecorder):
    def construct_create_table_statements(self) -> list[str]:
        return (super().construct_create_table_statements() + exchange_tables("") + audit_tables("", "BLOB")
                + vault_tables(""))

    def _create_table(self, c) -> None:
        super()._create_table(c)
        migrate_sqlite(c)

    def _insert_events(self, c, stored_events, **kwargs: Any):
        ids = super()._insert_events(c, stored_events, **kwargs)
        insert_rows(c, "", "?", kwargs.get("outbox", ()), kwargs.get("inbox"), kwargs.get("outcome"))
        return ids


class CmaaPostgresRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore, **kwargs: Any):
        super().__init__(datastore, **kwargs)
        self.sql_create_statements.extend(SQL(s) for s in exchange_tables(self.table_prefix))
        self.sql_create_statements.extend(SQL(s) for s in audit_tables(self.table_prefix, "BYTEA"))
        self.sql_create_statements.extend(SQL(s) for s in vault_tables(self.table_prefix))
        self.sql_create_statements.extend(SQL(s) for s in migrate_postgres(self.table_prefix))
        # The library composes its statements (psycopg.sql) again at every call: quoting the schema and
        # table names was ~2 % of a node's CPU on PostgreSQL (bench/exchange.py --profile). They are
        # constant for a recorder, so they are rendered once here.
        self.insert_events_statement = self.insert_events_statement.as_bytes(None)
        # The library sets the lock timeout again in each commit (SET LOCAL, one more statement per commit);
        # our connections carry it for the whole session (``adapters.store_faults.PostgresFactory``).
        rendered = [statement.as_bytes(None) for statement in self.lock_table_statements]
        self.lock_table_statements = [s for s in rendered if not s.startswith(b"SET LOCAL lock_timeout")]
        self._select_events_statements: dict[tuple[bool, bool, bool, bool], bytes] = {}

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_events(self, originator_id, *, gt: int | None = None, lte: int | None = None, desc: bool = False,
                      limit: int | None = None) -> list[StoredEvent]:
        """The library's ``select_events``, its statement rendered once per shape of the call."""
        shape = (gt is not None, lte is not None, desc, limit is not None)
        statement = self._select_events_statements.get(shape)
        if statement is None:
            composed = self.select_events_statement
            if gt is not None:
                composed += SQL(" AND originator_version > %s")
            if lte is not None:
                composed += SQL(" AND originator_version <= %s")
            composed += SQL(" ORDER BY originator_version DESC" if desc else " ORDER BY originator_version ASC")
            if limit is not None:
                composed += SQL(" LIMIT %s")
            statement = self._select_events_statements[shape] = composed.as_bytes(None)
        params = [originator_id, *(value for value in (gt, lte, limit) if value is not None)]
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params, prepare=True)
            return [StoredEvent(originator_id=row["originator_id"], originator_version=row["originator_version"],
                                topic=row["topic"], state=bytes(row["state"])) for row in curs.fetchall()]

    def _notify_channel(self, curs) -> None:
        """No ``NOTIFY`` per commit: nothing here listens (the sealer and the courier poll), and a
        notifying commit takes PostgreSQL's global notification-queue lock, one commit at a time
        across every node process on the database (bench/exchange.py, docs/performance.md)."""

    @property
    def table_prefix(self) -> str:
        schema = self.datastore.schema
        return f'"{schema}".' if schema else ""

    def _schema_ready(self) -> bool:
        """Every table, index and added column this recorder creates is there already.

        Checked from the catalog, which takes no lock on the tables: a CLI command or a
        replica starting beside a node under load then runs no DDL at all. (``CREATE INDEX
        IF NOT EXISTS`` locks its table even when the index exists; a node's transaction
        holding the outbox and asking for the events table, against one creating tables in
        the opposite order, was a deadlock.)"""
        schema = self.datastore.schema or "public"
        statements = [self.events_table_name] + [
            found.group(1) for text in (exchange_tables(""), audit_tables("", "BYTEA"), vault_tables(""))
            for statement in text if (found := re.match(r"CREATE (?:UNIQUE )?(?:TABLE|INDEX) IF NOT EXISTS (\S+)",
                                                         statement))]
        names = [f'"{schema}".{name.split(".")[-1]}' for name in statements]
        try:
            with self.datastore.transaction(commit=False) as curs:
                curs.execute("SELECT bool_and(to_regclass(name) IS NOT NULL) AS ready FROM unnest(%s::text[]) AS name",
                             (names,))
                if not curs.fetchone()["ready"]:
                    return False
                for table, column, _ in MIGRATIONS:
                    curs.execute("SELECT 1 FROM information_schema.columns WHERE table_schema = %s "
                                 "AND table_name = %s AND column_name = %s", (schema, table, column))
                    if curs.fetchone() is None:
                        return False
        except (ProgrammingError, psycopg.Error):
            return False
        return True

    def create_table(self) -> None:
        if self._schema_ready():
            return
        # The library creates its composite type in a transaction of its own and tolerates only
        # "already exists"; replicas starting together can instead collide in the catalog
        # (UniqueViolation on pg_type, or "relation ... already exists"). The loser tries again
        # and then finds the type there.
        for attempt in range(3):
            try:
                return super().create_table()
            except (IntegrityError, ProgrammingError, psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable):
                if attempt == 2:
                    raise

    def _create_table(self, curs) -> None:
        # Replicas starting together would race in the catalog on CREATE ... IF NOT
        # EXISTS ("duplicate key ... pg_type"); one transaction-scoped lock serialises them.
        curs.execute("SELECT pg_advisory_xact_lock(hashtext('cmaa:create-tables'))")
        super()._create_table(curs)

    def _insert_events(self, curs, stored_events, **kwargs: Any) -> None:
        super()._insert_events(curs, stored_events, **kwargs)
        insert_rows(curs, self.table_prefix, "%s", kwargs.get("outbox", ()), kwargs.get("inbox"),
                     kwargs.get("outcome"))
