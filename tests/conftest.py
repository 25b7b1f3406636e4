"""Shared fixtures: every store-backed test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest

from adapters.clock import FixedClock
from tests.pg_catalog import reclaim_catalog

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
    import psycopg

    with psycopg.connect(PG_DSN, autocommit=True) as conn:  # what earlier runs left (tests/pg_catalog.py)
        reclaim_catalog(conn)
    return True


RECLAIM_EVERY = 40  # dropped schemas between two VACUUMs of the catalog (tests/pg_catalog.py)
_dropped = [0]


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
            _dropped[0] += 1
            if _dropped[0] % RECLAIM_EVERY == 0:
                reclaim_catalog(conn)


@pytest.fixture
def pg_url(pg_ready) -> str:
    with fresh_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'cmaa.db'}"
    return request.getfixturevalue("pg_url")


# Node processes the tests start check what they sign too (tests/child_hooks/sitecustomize.py)
# and write what breaks a schema here; the test that started them fails.
SCHEMA_REPORTS = os.environ.setdefault("PUBLISHED_SCHEMA_REPORTS", os.path.join(
    os.environ.get("TMPDIR", "/tmp"), f"cmaa-schema-reports-{os.getpid()}"))
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, (
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "child_hooks"), os.environ.get("PYTHONPATH"))))
_SCHEMA_REPORTS_READ: dict[str, int] = {}


@pytest.fixture(autouse=True)
def signed_documents_follow_published_schemas(request, monkeypatch):
    """Every envelope, receipt, rejection and directory the nodes sign in a test — in this process
    or in a node process it started — and every audit bundle exported, validates against
    openapi/envelopes/*.schema.json (issue 16)."""
    from tests.published_schemas import child_reports, install

    recorder = install(monkeypatch, request.module)
    yield recorder
    problems = recorder.problems() + child_reports(SCHEMA_REPORTS, _SCHEMA_REPORTS_READ)
    if problems:
        pytest.fail("documents the nodes produced break the published schemas:\n" + "\n".join(problems[:20]))


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def pg_url_second(pg_ready):
    """A second fresh schema, for a second node's store."""
    with fresh_schema() as url:
        yield url


# -- logs: never a personal-data value, a token or key material ---------------------------
# Every log line of the whole suite, in-process (through the JSON formatter) and from the
# node processes the end-to-end tests start (tests/servers.py writes their output into
# this directory), is scanned at the end of the session for the test data's names and
# identifiers and for secrets; a hit fails the run.
LOG_DIR = os.environ.setdefault("CMAA_TEST_LOG_DIR", os.path.join(
    os.environ.get("TMPDIR", "/tmp"), f"cmaa-test-logs-{os.getpid()}"))

# Personal data and case content used by the tests (tests/factories.py and the flows).
SENSITIVE = ("Nordlys Import AS", "NO-987654321", "MSCU1234567", "undervaluation of electronics",
             "Declared value JPY 1,200,000", "JPY 1,200,000", "Export declaration EX-2026-001",
             # tests/exchange/test_personal_data.py
             "Ingrid Solberg", "NO1234567", "Per Kvalheim", "NO7654321", "Gardermoen", "Passport copy")
SECRET_PATTERNS = (r"cmaa\.[0-9a-f]{16}\.[A-Za-z0-9_-]{20,}",  # bearer credentials
                   r"-----BEGIN [A-Z ]*PRIVATE KEY-----", r'"d"\s*:\s*"[A-Za-z0-9_-]{20,}"',  # key material
                   r"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}")  # a JWS/JWT with JSON payload


def pytest_configure(config):
    import logging

    from service.ops.observability import JsonFormatter

    os.makedirs(LOG_DIR, exist_ok=True)
    os.makedirs(SCHEMA_REPORTS, exist_ok=True)
    # With several workers (addopts -n 2) each writes its own file; the controller scans them all.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    handler = logging.FileHandler(os.path.join(LOG_DIR, f"in-process{'-' + worker if worker else ''}.log"),
                                  encoding="utf-8")
    handler.setFormatter(JsonFormatter())
    handler.setLevel(logging.DEBUG)
    logger = logging.getLogger("cmaa")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def scan_logs(directory: str) -> list[str]:
    import re

    hits = []
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
        with open(os.path.join(directory, name), encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                for value in SENSITIVE:
                    if value in line:
                        hits.append(f"{name}:{number}: {value!r}")
                for pattern in SECRET_PATTERNS:
                    if re.search(pattern, line):
                        hits.append(f"{name}:{number}: matches {pattern!r}")
    return hits


def pytest_sessionfinish(session, exitstatus):
    import shutil

    if os.environ.get("PYTEST_XDIST_WORKER"):
        return  # the controller scans what every worker and its node processes wrote, once they all ended

    from tests.published_schemas import child_reports

    late = child_reports(SCHEMA_REPORTS, _SCHEMA_REPORTS_READ)  # from a node process that outlived its test
    if late:
        session.exitstatus = 1
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        for line in ["node processes signed documents that break the published schemas:", *late[:20]]:
            if reporter:
                reporter.write_line(line, red=True)
    else:
        shutil.rmtree(SCHEMA_REPORTS, ignore_errors=True)
    hits = scan_logs(LOG_DIR)
    lines = sum(1 for n in os.listdir(LOG_DIR) for _ in open(os.path.join(LOG_DIR, n), errors="replace")) \
        if os.path.isdir(LOG_DIR) else 0
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if hits:
        if reporter:
            reporter.write_line(f"LOG LEAK: {len(hits)} log line(s) hold personal data or secrets "
                                f"(logs kept in {LOG_DIR}):", red=True)
            for hit in hits[:50]:
                reporter.write_line(f"  {hit}", red=True)
        session.exitstatus = 1
        return
    if reporter:
        reporter.write_line(f"log scan: {lines} log lines of the suite hold no personal data or secrets")
    shutil.rmtree(LOG_DIR, ignore_errors=True)


@pytest.fixture(autouse=True)
def problems_read_as_prose():
    """Every problem any test provokes reads as prose: no None, [], {} or quoted internals in its detail."""
    from service.http import problems

    seen: list[dict] = []
    problems.WATCHERS.append(seen.append)
    yield
    problems.WATCHERS.remove(seen.append)
    shown = [(p["type"], text) for p in seen for text in problems.python_repr_in(p)]
    report = os.environ.get("CMAA_REPR_REPORT")
    if report and shown:
        with open(report, "a") as out:
            out.writelines(f"{t}\t{text}\n" for t, text in shown)
        return
    assert not shown, f"problem details show Python representations: {shown}"
