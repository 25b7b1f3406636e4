"""A store that cannot write: 503 store-unavailable with Retry-After, nothing half-written,
/readyz names it, and the first request after it is writable again succeeds."""

from __future__ import annotations

import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

from adapters.store_faults import StoreGate, store_unavailable
from tests.factories import jp_no_request


@contextmanager
def immutable(*paths: Path):
    """chattr +i: not even root may write the files (the open connections included)."""
    present = [str(p) for p in paths if p.exists()]
    made = subprocess.run(["chattr", "+i", *present], capture_output=True, text=True) if shutil.which("chattr") \
        else None
    if made is None or made.returncode != 0:
        pytest.skip(f"cannot make files immutable here (needs root and chattr): {made and made.stderr}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *present], check=True)


def _sqlite_files(node) -> list[Path]:
    db = Path(node.store.url.removeprefix("sqlite:///").split("?")[0])
    return [db, Path(f"{db}-wal")]


def _is_store_unavailable(response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == "urn:cmaa:problem:store-unavailable"
    assert int(response.headers["retry-after"]) <= 5


def test_an_unwritable_sqlite_store_answers_503_and_readyz_says_so(node, api, who):
    if not node.store.url.startswith("sqlite"):
        pytest.skip("the SQLite file; PostgreSQL outages are in tests/e2e/test_store_outages.py")
    case_id = api.post("/cases", json=jp_no_request(), headers=who.official).json()["id"]
    before = api.get("/cases", headers=who.official).json()["count"]
    with immutable(*_sqlite_files(node)):
        _is_store_unavailable(api.post("/cases", json=jp_no_request(), headers=who.official))
        # a read that cannot record its activity-log entry is refused, not served unlogged
        node.store.gate.failed_at = None
        _is_store_unavailable(api.get(f"/cases/{case_id}", headers=who.official))
        _is_store_unavailable(api.get("/cases", headers=who.official))
        ready = api.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["store"]["detail"].startswith("SQLite ")
        assert "cannot" in ready.json()["checks"]["store"]["detail"]
    assert api.get("/readyz").status_code == 200  # and it clears the fail-fast gate
    created = api.post("/cases", json=jp_no_request(), headers=who.official)
    assert created.status_code == 201, created.text
    assert api.get("/cases", headers=who.official).json()["count"] == before + 1  # nothing half-written


def test_requests_fail_fast_for_a_moment_after_a_store_failure_then_try_again():
    gate = StoreGate(window=60)
    gate.check()
    gate.failed(OSError("reset"))
    with pytest.raises(Exception) as raised:
        gate.check()
    assert store_unavailable(raised.value)
    gate.succeeded()
    gate.check()


@pytest.mark.parametrize("error,down", [
    (__import__("sqlite3").OperationalError("disk I/O error"), True),
    (__import__("sqlite3").OperationalError("attempt to write a readonly database"), True),
    (__import__("sqlite3").OperationalError("no such table: cmaa_x"), False),
    (__import__("psycopg").OperationalError("connection refused"), True),
    (ValueError("bad"), False),
    (__import__("psycopg").errors.PipelineAborted("pipeline aborted"), False),
])
def test_store_failures_are_told_from_programming_errors(error, down):
    assert store_unavailable(error) is down


def test_a_pipeline_aborted_by_another_writers_row_is_a_concurrent_update_not_an_outage(node, monkeypatch):
    """Two replicas applying one envelope at once on PostgreSQL: the loser's transaction fails on the inbox
    row the other inserted first, and psycopg reports "pipeline aborted". That is a concurrent update (the
    inbox then answers with the stored receipt), never store-unavailable (a 503 and /readyz failing)."""
    import psycopg
    from eventsourcing.persistence import OperationalError

    from domain.errors import ConcurrentUpdate

    def aborted(*args, **kwargs):
        try:
            raise psycopg.errors.PipelineAborted("pipeline aborted")
        except psycopg.Error as error:
            raise OperationalError(error) from error

    monkeypatch.setattr(node.store, "save", aborted)
    with pytest.raises(ConcurrentUpdate):
        node.store.commit()


def test_a_store_failure_after_the_write_committed_does_not_say_nothing_was_changed(api, node, who, monkeypatch):
    import psycopg

    from service.http.routes import cases

    def store_gone(*args, **kwargs):
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(cases, "_view", store_gone)  # the answer is built after the case was stored
    response = api.post("/cases", json=jp_no_request(), headers=who.official)
    assert response.status_code == 503 and "retry-after" in response.headers
    assert response.json()["type"] == "urn:cmaa:problem:store-unavailable-after-write"
    node.store.gate.succeeded()
    assert api.get("/cases", headers=who.official).json()["count"] == 1
