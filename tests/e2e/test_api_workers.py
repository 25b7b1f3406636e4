"""`cmaa serve` with several API worker processes (CMAA_API_WORKERS, --workers): uvicorn's workers on one
socket, each a replica of the node with its own courier child; concurrent requests are all accepted, every
envelope is delivered exactly once, and SIGTERM stops the whole process tree cleanly."""

from __future__ import annotations

import json
import os
import signal
import ssl
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

import httpx
import pytest

from domain.messages import local_case_id
from tests.e2e.test_faults import pair  # noqa: F401  (fixture: both backends)
from tests.e2e.test_http_edges import _connect, _node_env, _read_response
from tests.factories import jp_no_request
from tests.servers import alive, children, cli_env, cmaa, cmdline, node_process, tree, wait_until
from tests.tls import client_context, two_nodes_over_mutual_tls

REQUESTS = 12


def workers_of(pid: int) -> list[int]:
    """uvicorn's worker processes (multiprocessing spawn) under the `cmaa serve` process."""
    return [child for child in children(pid) if b"spawn_main" in cmdline(child)]


def outbox(url: str) -> list[dict]:
    from adapters.store import EventStore

    store = EventStore(url)
    try:
        return store.exchange._select("", ())
    finally:
        store.close()


def test_two_workers_accept_concurrent_requests_deliver_each_once_and_stop_on_sigterm(pair):
    no, jp, no_h, jp_h = pair
    jp.start(), no.start(CMAA_API_WORKERS="2")
    workers = wait_until(lambda: len(found := workers_of(no.process.pid)) == 2 and found, timeout=60)
    # Each worker runs its own courier child (started after the worker's app; 30 s were not always enough
    # on a loaded two-core machine).
    wait_until(lambda: all(any(b"courier" in cmdline(c) for c in children(w)) for w in workers), timeout=60)

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: httpx.post(f"{no.base}/cases", json=jp_no_request(), headers=no_h,
                                                     timeout=30), range(REQUESTS)))
    assert [a.status_code for a in answers] == [201] * REQUESTS, [a.text[:200] for a in answers]
    sent = {a.json()["id"] for a in answers}
    assert len(sent) == REQUESTS

    url = no.env["CMAA_DATABASE_URL"]
    wait_until(lambda: (rows := outbox(url)) and all(r["status"] == "delivered" for r in rows)
               and len(rows) == REQUESTS, timeout=60)
    theirs = httpx.get(f"{jp.base}/cases", params={"limit": 500}, headers=jp_h).json()["data"]
    assert len(theirs) == REQUESTS
    assert {c["id"] for c in theirs} == {str(local_case_id("JP", "NO", UUID(i))) for i in sent}

    processes = tree(no.process.pid)
    assert len(processes) >= 5  # the parent, two workers, their two couriers
    no.process.send_signal(signal.SIGTERM)
    assert no.process.wait(timeout=30) == 0
    wait_until(lambda: not any(alive(pid) for pid in processes), timeout=15)
    log = open(no.log.name, encoding="utf-8").read()
    assert log.count("courier stopped") == 2 and log.count('"node stopped"') == 2


def test_zero_workers_is_refused_before_anything_starts(tmp_path):
    env = cli_env(tmp_path / "no", f"sqlite:///{tmp_path / 'no.db'}")
    by_option = cmaa(env, "serve", "--workers", "0")
    assert by_option.returncode == 2
    assert by_option.stderr.splitlines()[0] == ("error: Invalid value for '--workers': Input should be greater "
                                                "than or equal to 1")
    by_setting = cmaa({**env, "CMAA_API_WORKERS": "0"}, "serve")
    assert by_setting.returncode == 2
    assert by_setting.stderr.splitlines() == ["configuration error: CMAA_API_WORKERS: Input should be greater "
                                              "than or equal to 1"]
    assert not (tmp_path / "no").exists() and not (tmp_path / "no.db").exists()


def test_each_worker_answers_below_the_app_with_the_nodes_settings(tmp_path):
    """The protocol class is imported by name in each worker, which sets this node's bounds on it."""
    env = _node_env(tmp_path, CMAA_API_WORKERS="2", CMAA_HEADER_TIMEOUT_SECONDS="1")
    with node_process(env) as base:
        for _ in range(4):  # whichever worker takes the connection
            with _connect(base) as sock:
                sock.sendall(b"POST /cases HTTP/1.1\r\nHost: node\r\nContent-Type: appl")
                status, headers, body = _read_response(sock)
            assert status == 408 and headers["content-type"] == "application/problem+json"
            assert "within 1 s (CMAA_HEADER_TIMEOUT_SECONDS)" in json.loads(body)["detail"]  # not the default 5
            with _connect(base) as sock:
                sock.sendall("GET /cases/üñ HTTP/1.1\r\nHost: node\r\n\r\n".encode())
                status, headers, body = _read_response(sock)
            assert status == 400 and json.loads(body)["type"] == "urn:cmaa:problem:bad-http-request"


def test_workers_serve_mutual_tls_like_one_process(tmp_path):
    no, jp, no_token, jp_token, context, (ca, _, _) = two_nodes_over_mutual_tls(tmp_path)
    try:
        no.start(), jp.start(CMAA_API_WORKERS="2")  # the receiver: partners' mutual TLS on its listener
        assert len(wait_until(lambda: len(found := workers_of(jp.process.pid)) == 2 and found)) == 2
        with httpx.Client(verify=context) as client:
            made = client.post(f"{no.base}/cases", json=jp_no_request(), headers={"Authorization": f"Bearer {no_token}"})
            assert made.status_code == 201
            wait_until(lambda: client.get(f"{jp.base}/cases/{local_case_id('JP', 'NO', UUID(made.json()['id']))}",
                                          headers={"Authorization": f"Bearer {jp_token}"}).status_code == 200)
        for _ in range(4):  # every worker refuses a client without a certificate
            with pytest.raises((httpx.ConnectError, httpx.ReadError, ssl.SSLError, httpx.RemoteProtocolError)):
                with httpx.Client(verify=client_context(ca)) as anonymous:
                    anonymous.get(f"{jp.base}/exchange/directory").raise_for_status()
    finally:
        no.stop()
        jp.stop()


def test_a_worker_that_cannot_open_the_node_stops_serve_with_a_failure_status(tmp_path):
    """Each worker opens the node itself; one that finds no node where its parent found one (a store emptied,
    replaced or out of reach meanwhile) must not serve an empty store, nor be started again and again: the
    parent stops the others and `cmaa serve` exits non-zero, so that a service manager sees the failure."""
    import subprocess
    import sys

    from tests.servers import free_port

    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'node.db'}", CMAA_API_WORKERS="2",
                  CMAA_PORT=str(free_port()), CMAA_LOG_LEVEL="info",
                  WORKER_TEST_DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}")  # tests/child_hooks
    assert cmaa(env, "init").returncode == 0
    served = subprocess.run([sys.executable, "-m", "service.cli", "serve"], env=env, capture_output=True, text=True,
                            timeout=120, check=False)
    assert served.returncode == 3, served.stderr[-2000:]
    assert "could not start" in served.stderr and "cmaa serve` stopped" in served.stderr
    assert "cannot open the node: no node at" in served.stderr + served.stdout


def test_workers_stop_when_their_serve_process_is_killed(tmp_path):
    """SIGKILL (or the OOM killer) on `cmaa serve` leaves its workers without a supervisor: each stops itself
    within seconds, with its courier child, instead of serving on the shared socket forever."""
    import subprocess
    import sys

    from tests.servers import free_port

    port = free_port()
    env = {**_node_env(tmp_path, CMAA_API_WORKERS="2", CMAA_PORT=str(port)), "CMAA_LOG_LEVEL": "info"}
    log = tmp_path / "serve.log"
    with open(log, "w") as out:
        serve = subprocess.Popen([sys.executable, "-m", "service.cli", "serve"], env=env, stdout=out,
                                 stderr=subprocess.STDOUT)
    below: list[int] = []
    try:
        workers = wait_until(lambda: len(found := workers_of(serve.pid)) == 2 and found, timeout=60)
        wait_until(lambda: all(any(b"courier" in cmdline(c) for c in children(w)) for w in workers), timeout=60)
        below = [pid for pid in tree(serve.pid) if pid != serve.pid]
        assert len(below) >= 4  # two workers, their two couriers (and multiprocessing's resource tracker)
        serve.kill()
        serve.wait(timeout=10)
        wait_until(lambda: not any(alive(pid) for pid in below), timeout=30)
        assert log.read_text().count("has gone; stopping") == 2
        with pytest.raises(httpx.ConnectError):  # nothing answers on the port any more
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    finally:
        for pid in [serve.pid, *below]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
