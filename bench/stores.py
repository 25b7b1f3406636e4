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


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float | None:
    """User + system CPU seconds of every PostgreSQL server process on this machine (its backends
    serve the nodes' connections): the store's share of an exchange, which the node processes'
    figures leave out. ``None`` when none can be read."""
    total, found = 0.0, False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            total += cpu_seconds(int(entry.name))
            found = True
        except (OSError, ValueError, IndexError):
            continue  # ended meanwhile
    return total if found else None
