"""Stores for a bench run: SQLite files in a directory, or fresh PostgreSQL schemas dropped afterwards."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

PG = os.environ.get("CMAA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def store_urls(backend: str, directory: Path, names: list[str], query: str = "") -> tuple[list[str], list[str]]:
    """One store URL per name (``query`` appended to SQLite URLs), and the PostgreSQL schemas made for them."""
    if backend == "sqlite":
        return [f"sqlite:///{directory / f'{name}.db'}{query}" for name in names], []
    import psycopg

    from tests.pg_catalog import reclaim_catalog

    schemas = [f"bench_{uuid.uuid4().hex[:8]}" for _ in names]
    with psycopg.connect(PG, autocommit=True) as conn:
        reclaim_catalog(conn)  # what earlier runs and test suites left (tests/pg_catalog.py)
        for schema in schemas:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    return [f"{PG}?schema={schema}" for schema in schemas], schemas


def drop_schemas(schemas: list[str]) -> None:
    if not schemas:
        return
    import psycopg

    from tests.pg_catalog import reclaim_catalog

    with psycopg.connect(PG, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        reclaim_catalog(conn)  # the next run starts with the catalog this one found (tests/pg_catalog.py)
