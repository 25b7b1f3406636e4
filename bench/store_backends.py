"""Which eventsourcing recorder per back end: native or eventsourcing-sqlalchemy?

Measures, on this machine, single-case commits per second (one request opened
and stored per transaction, as the API does) and aggregate reads per second,
for the native SQLite and PostgreSQL recorders and the eventsourcing-sqlalchemy
ones, next to a baseline measured in the same run: the same bytes inserted with
the bare driver (sqlite3 / psycopg), one commit per row.

    python bench/store_backends.py [--n 1000] [--pg postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.store import EventStore  # noqa: E402
from domain.case import REQUESTING, AssistanceCase, actor  # noqa: E402

CONTENT = {
    "action_requested": "Provide the export declarations for container MSCU1234567",
    "reason": "Suspected undervaluation", "case_description": "x" * 600,
    "laws_involved": ["Customs Act s. 16-1"], "targets": [{"kind": "legal", "name": "Nordlys Import AS"}],
}


def new_case() -> AssistanceCase:
    return AssistanceCase.open(
        AssistanceCase.AssistanceRequested, case_id=uuid.uuid4(), agreement="jp-no-2016", own_administration="NO",
        partner_administration="JP", side=REQUESTING, kind="information", language="en", reference="NO-2026-B",
        content=CONTENT, by=actor("NO", "no-hansen"), at=datetime.now(UTC), articles=["JP-NO Art. 3(1)"],
        channel="written")


def measure_store(url: str, n: int) -> tuple[float, float, float]:
    store = EventStore(url)
    try:
        latencies, ids = [], []
        start = time.perf_counter()
        for _ in range(n):
            case = new_case()
            t0 = time.perf_counter()
            store.commit(case)
            latencies.append(time.perf_counter() - t0)
            ids.append(case.id)
        commits = n / (time.perf_counter() - start)
        start = time.perf_counter()
        for case_id in ids:
            store.load(case_id)
        reads = n / (time.perf_counter() - start)
        p99 = statistics.quantiles(latencies, n=100)[98] * 1000
        return commits, reads, p99
    finally:
        store.close()


def baseline_sqlite(path: str, n: int, payload: bytes) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (id TEXT PRIMARY KEY, v INTEGER, topic TEXT, state BLOB)")
    start = time.perf_counter()
    for _ in range(n):
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t VALUES (?, 1, 'x', ?)", (uuid.uuid4().hex, payload))
        conn.execute("COMMIT")
    rate = n / (time.perf_counter() - start)
    conn.close()
    return rate


def baseline_postgres(dsn: str, schema: str, n: int, payload: bytes) -> float:
    import psycopg

    with psycopg.connect(dsn) as conn:
        conn.execute(f'CREATE TABLE "{schema}".t (id uuid PRIMARY KEY, v int, topic text, state bytea)')
        conn.commit()
        start = time.perf_counter()
        for _ in range(n):
            conn.execute(f'INSERT INTO "{schema}".t VALUES (%s, 1, %s, %s)', (uuid.uuid4(), "x", payload))
            conn.commit()
        return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--pg", default=os.environ.get("CMAA_TEST_POSTGRES",
                                                      "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    payload = os.urandom(900)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = baseline_sqlite(f"{tmp}/baseline.db", args.n, payload)
        for label, url in [("sqlite native", f"sqlite:///{tmp}/native.db"),
                           ("sqlite sqlalchemy", f"sqlite+sqlalchemy:///{tmp}/sa.db")]:
            rows.append((label, *measure_store(url, args.n), base))
    try:
        import psycopg

        schemas = [f"bench_{uuid.uuid4().hex[:8]}" for _ in range(3)]
        with psycopg.connect(args.pg, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f'CREATE SCHEMA "{schema}"')
        try:
            base = baseline_postgres(args.pg, schemas[0], args.n, payload)
            rows.append(("postgres native", *measure_store(f"{args.pg}?schema={schemas[1]}", args.n), base))
            sa_url = args.pg.replace("postgresql://", "postgresql+sqlalchemy://", 1)
            rows.append(("postgres sqlalchemy",
                         *measure_store(f"{sa_url}?options=-csearch_path%3D{schemas[2]}", args.n), base))
        finally:
            with psycopg.connect(args.pg, autocommit=True) as conn:
                for schema in schemas:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    except Exception as exc:  # PostgreSQL is optional for this benchmark
        print(f"postgres skipped: {exc}", file=sys.stderr)

    print(f"{'recorder':<22}{'commits/s':>11}{'p99 ms':>9}{'reads/s':>10}{'baseline/s':>12}{'ratio':>8}")
    for label, commits, reads, p99, base in rows:
        print(f"{label:<22}{commits:>11.0f}{p99:>9.2f}{reads:>10.0f}{base:>12.0f}{commits / base:>8.2f}")


if __name__ == "__main__":
    main()
