"""Several node processes on one PostgreSQL database stay correct."""

from __future__ import annotations

import threading
from collections import Counter

import httpx
import pytest

from tests.factories import jp_no_request, received_request
from tests.servers import cli_env, cmaa, node_process

pytestmark = pytest.mark.postgres


def test_two_node_processes_on_one_database_work_the_same_case_without_losing_a_step(pg_url, tmp_path):
    env = cli_env(tmp_path / "data", pg_url)
    assert cmaa(env, "init").returncode == 0
    assert cmaa(env, "officials", "add", "no-hansen", "--name", "Kari Hansen", "--role", "official").returncode == 0
    assert cmaa(env, "partners", "add", "JP", "--name", "Japan Customs", "--agreement", "jp-no-2016").returncode == 0
    token = cmaa(env, "credentials", "issue", "no-hansen").stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}

    with node_process(env) as first, node_process(env) as second:
        case = httpx.post(f"{first}/cases/received", json=received_request(kind="special_surveillance"),
                          headers=headers).json()
        url = f"/cases/{case['id']}"
        # Both replicas race to acknowledge: exactly one wins, the other is told to retry.
        barrier = threading.Barrier(2)
        outcomes: list[int] = []

        def acknowledge(base):
            barrier.wait()
            outcomes.append(httpx.post(f"{base}{url}/acknowledgement", headers=headers).status_code)

        threads = [threading.Thread(target=acknowledge, args=(b,)) for b in (first, second)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert sorted(outcomes) == [200, 409]

        # Then many interim reports through both replicas at once.
        results: Counter = Counter()
        lock = threading.Lock()

        def report(base):
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                for _ in range(10):
                    status = client.post(f"{url}/replies", json={
                        "items": [{"title": "Sighting", "content": "Vessel in port"}], "final": False}).status_code
                    with lock:
                        results[status] += 1

        threads = [threading.Thread(target=report, args=(b,)) for b in (first, second, first, second)]
        [t.start() for t in threads]
        [t.join() for t in threads]

        assert set(results) <= {200, 409}, results
        history = httpx.get(f"{second}{url}/history", headers=headers).json()["data"]
        assert [e["version"] for e in history] == list(range(1, len(history) + 1))
        assert len(history) == 2 + results[200]
        assert len(httpx.get(f"{first}{url}", headers=headers).json()["items"]) == results[200]


def test_replicas_initialising_together_create_one_operator(pg_url, tmp_path):
    env = cli_env(tmp_path / "data", pg_url)
    outputs = []
    threads = [threading.Thread(target=lambda: outputs.append(cmaa(env, "init"))) for _ in range(3)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert all(o.returncode == 0 for o in outputs), [o.stderr for o in outputs]
    assert sum("shown once" in o.stderr for o in outputs) == 1


def test_a_request_made_through_one_replica_is_visible_through_the_other(pg_url, tmp_path):
    env = cli_env(tmp_path / "data", pg_url)
    cmaa(env, "init")
    cmaa(env, "officials", "add", "no-hansen", "--name", "Kari", "--role", "official")
    cmaa(env, "partners", "add", "JP", "--name", "Japan", "--agreement", "jp-no-2016")
    cmaa(env, "partners", "official", "JP", "jp-tanaka", "--name", "Tanaka")
    headers = {"Authorization": f"Bearer {cmaa(env, 'credentials', 'issue', 'no-hansen').stdout.strip()}"}
    with node_process(env) as first, node_process(env) as second:
        made = httpx.post(f"{first}/cases", json=jp_no_request(), headers=headers)
        assert made.status_code == 201
        assert httpx.get(f"{second}/cases/{made.json()['id']}", headers=headers).json()["status"] == "requested"


def test_replicas_creating_the_tables_together_never_collide_in_the_catalog(pg_ready):
    """The library's composite type is created outside our advisory lock; concurrent creators
    collided in pg_type ("duplicate key", "relation already exists") about one start in ten."""
    from adapters.store import EventStore
    from tests.conftest import fresh_schema

    for _ in range(8):
        with fresh_schema() as url:
            errors = []

            def start():
                try:
                    EventStore(url).close()
                except Exception as error:  # noqa: BLE001 - collected for the assertion
                    errors.append(repr(error))
            threads = [threading.Thread(target=start) for _ in range(4)]
            [t.start() for t in threads]
            [t.join() for t in threads]
            assert errors == []
