"""Reclaiming the catalog rows of dropped schemas on the test PostgreSQL server.

The suite makes and drops a schema per PostgreSQL test (``tests/conftest.py`` ``fresh_schema``), the
benchmarks one per node and run (``bench/stores.py``); a dropped schema's catalog rows (~400 of
``pg_attribute`` for a node's tables) are dead tuples. This project's machines run PostgreSQL with
``autovacuum = off``, so nothing reclaims them: after one suite ``pg_attribute`` held 207,000 dead rows
beside 4,500 live ones (40 MB), every catalog look-up of every new connection and statement slowed
through the run, the suite took twice as long and the PostgreSQL benchmark lost a third of its rate
run after run. ``VACUUM`` of the catalog tables takes a fraction of a second.
"""

from __future__ import annotations

CATALOG = ("pg_attribute", "pg_class", "pg_depend", "pg_type", "pg_index", "pg_constraint", "pg_namespace",
           "pg_attrdef", "pg_sequence", "pg_statistic")


def reclaim_catalog(conn) -> None:
    """``conn``: a psycopg connection in autocommit mode (VACUUM runs outside a transaction)."""
    conn.execute("VACUUM " + ", ".join(f"pg_catalog.{table}" for table in CATALOG))
