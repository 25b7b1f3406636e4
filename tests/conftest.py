"""Shared fixtures: every store-backed test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from adapters.clock import FixedClock

PG_DSN = os.environ.get("CMAA_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_DSN.replace("postgresql://", "postgresql://", 1), connect_timeout=3):
            return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def pg_ready() -> bool:
    if not _pg_available():
        if os.environ.get("CI") or os.environ.get("CMAA_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL is required but not reachable at {PG_DSN}")
        pytest.skip("PostgreSQL not reachable")
    return True


@contextmanager
def fresh_schema():
    """A new schema in the test database, dropped afterwards; yields its store URL."""
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_DSN}?schema={schema}"
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def pg_url(pg_ready) -> str:
    with fresh_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cmaa.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def pg_url_second(pg_ready):
    """A second fresh schema, for a second node's store."""
    with fresh_schema() as url:
        yield url
