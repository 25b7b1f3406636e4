"""The store goes away under concurrent traffic, on a real `cmaa serve` process.

PostgreSQL behind a TCP proxy that the test cuts (connections refused, reset, blackholed)
and restores; a SQLite file made unwritable (chattr +i) and writable again. Clients write
with Idempotency-Key and retry every failure with the same key and body, as the draft means
them to. Wanted: every answer 2xx, 409 or 503 problem+json; /readyz answers throughout and
tells the truth; nothing acknowledged is lost; nothing is duplicated; the node recovers once
the store is back. The figures are printed (requests, acknowledged, lost, duplicated, 5xx,
time to 503, time to recover) — measured, not asserted against the clock.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.factories import configure, jp_no_request
from tests.servers import NodeProcess, _settings, cli_env, free_port
from tests.tcp_proxy import TcpProxy

CLIENTS = 4
BEFORE, OUTAGE, AFTER = 2.0, 4.0, 4.0  # seconds of traffic around the fault
RECOVERY = 20.0  # the longest wait for the first successful write after the store is back


class Traffic:
    """Officials writing cases with keys, retrying until acknowledged; /readyz polled aside."""

    def __init__(self, base: str, token: str, tag: str):
        self.base, self.headers, self.tag = base, {"Authorization": f"Bearer {token}"}, tag
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.answers: list[tuple[float, int, str]] = []  # (when, status, problem type or "")
        self.bad: list[str] = []
        self.transport_errors = 0
        self.acknowledged: dict[str, str] = {}  # description -> case id
        self.committed: set[str] = set()  # carried out, answer not recorded (409 idempotency-key-committed)
        self.ready: list[tuple[float, int | None, float, str]] = []  # (when, status, latency, store detail)
        self.threads = [threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(CLIENTS)]
        self.threads.append(threading.Thread(target=self._readyz, daemon=True))

    def start(self):
        for thread in self.threads:
            thread.start()
        return self

    def finish(self, grace: float = 30.0):
        self.stop.set()
        for thread in self.threads:
            thread.join(grace)

    def _client(self, n: int):
        with httpx.Client(base_url=self.base, timeout=15) as client:
            i = 0
            while not self.stop.is_set():
                description = f"{self.tag} client {n} case {i}"
                body = jp_no_request(case_description=description)
                key = {"Idempotency-Key": f'"{uuid.uuid4()}"', **self.headers}
                while True:  # the same key and body until acknowledged (or the test is over)
                    try:
                        response = client.post("/cases", json=body, headers=key)
                    except httpx.TransportError:
                        with self.lock:
                            self.transport_errors += 1
                        time.sleep(0.1)
                        continue
                    self._record(response)
                    if response.status_code == 201:
                        with self.lock:
                            self.acknowledged[description] = response.json()["id"]
                        break
                    if response.status_code == 409 and "idempotency-key-committed" in response.text:
                        with self.lock:  # carried out, its answer lost: it must exist, once
                            self.committed.add(description)
                        break
                    if self.stop.is_set() and response.status_code >= 500:
                        break  # given up, unacknowledged: it may or may not exist, but only once
                    time.sleep(0.1)
                i += 1

    def _record(self, response: httpx.Response):
        kind = ""
        if response.status_code >= 400:
            if response.headers.get("content-type") != "application/problem+json":
                self.bad.append(f"{response.status_code} {response.headers.get('content-type')}")
            else:
                kind = response.json().get("type", "")
            if response.status_code == 503 and "retry-after" not in response.headers:
                self.bad.append(f"503 without Retry-After: {kind}")
        if response.status_code not in (200, 201, 409, 503):
            self.bad.append(f"{response.status_code}: {response.text[:200]}")
        with self.lock:
            self.answers.append((time.monotonic(), response.status_code, kind))

    def _readyz(self):
        with httpx.Client(base_url=self.base, timeout=5) as client:
            while not self.stop.is_set():
                began = time.monotonic()
                try:
                    response = client.get("/readyz")
                    detail = response.json()["checks"]["store"]["detail"]
                    self.ready.append((began, response.status_code, time.monotonic() - began, detail))
                except (httpx.TransportError, KeyError, ValueError) as error:
                    self.ready.append((began, None, time.monotonic() - began, type(error).__name__))
                time.sleep(0.2)


def _all_cases(base: str, headers: dict) -> list[dict]:
    cases, after = [], 0
    while True:
        for _ in range(60):  # the node answers 503 until it has its store back
            response = httpx.get(f"{base}/cases", params={"after": after, "limit": 200}, headers=headers, timeout=30)
            if response.status_code == 200:
                break
            time.sleep(0.5)
        assert response.status_code == 200, response.text
        page = response.json()
        cases += page["data"]
        if not page["data"] or not page.get("next_after"):
            return cases
        after = page["next_after"]


def _run(node: NodeProcess, token: str, tag: str, cut, restore, capsys) -> None:
    traffic = Traffic(node.base, token, tag).start()
    time.sleep(BEFORE)
    cut_at = time.monotonic()
    cut()
    time.sleep(OUTAGE)
    restored_at = time.monotonic()
    restore()
    # Traffic goes on AFTER seconds past the first write that succeeds again (within RECOVERY), so the
    # /readyz answers after recovery are there to check however long the store took to come back.
    deadline = restored_at + RECOVERY
    while time.monotonic() < deadline and not any(
            status == 201 and t >= restored_at for t, status, _ in list(traffic.answers)):
        time.sleep(0.1)
    time.sleep(AFTER)
    traffic.finish()

    answers = traffic.answers
    first_503 = next((t for t, status, _ in answers if status == 503 and t >= cut_at), None)
    recovered = next((t for t, status, _ in answers if status == 201 and t >= restored_at), None)
    during = [r for r in traffic.ready if cut_at + 1.5 <= r[0] <= restored_at]
    after = [r for r in traffic.ready if r[0] >= (recovered or restored_at) + 1.5]
    stored = Counter(c["content"]["case_description"] for c in _all_cases(node.base, traffic.headers)
                     if c["content"]["case_description"].startswith(tag))
    lost = [d for d in [*traffic.acknowledged, *traffic.committed] if stored[d] == 0]
    duplicated = [d for d, n in stored.items() if n > 1]
    figures = {
        "requests": len(answers), "statuses": dict(Counter(s for _, s, _ in answers)),
        "409 kinds": dict(Counter(k for _, s, k in answers if s == 409)), "acknowledged": len(traffic.acknowledged),
        "committed without answer": len(traffic.committed), "lost": len(lost),
        "duplicated": len(duplicated), "5xx": sum(1 for _, s, _ in answers if s >= 500),
        "5xx other than 503": sum(1 for _, s, _ in answers if s >= 500 and s != 503),
        "503 kinds": dict(Counter(k for _, s, k in answers if s == 503)),
        "transport errors": traffic.transport_errors,
        "time to 503 s": round(first_503 - cut_at, 2) if first_503 else None,
        "time to recover s": round(recovered - restored_at, 2) if recovered else None,
        "readyz answers": len(traffic.ready),
        "readyz slowest s": round(max(r[2] for r in traffic.ready), 2),
        "readyz during outage": dict(Counter(r[1] for r in during)),
    }
    with capsys.disabled():
        print(f"\n[store outage {tag}] " + ", ".join(f"{k}: {v}" for k, v in figures.items()))
    assert not traffic.bad, traffic.bad[:10]
    assert not lost and not duplicated, (lost, duplicated)
    assert first_503 is not None and recovered is not None
    assert all(r[1] is not None for r in traffic.ready), "every /readyz call was answered"
    assert during and all(r[1] == 503 for r in during), during
    assert after and all(r[1] == 200 for r in after), after
    assert during[0][3].split()[0] in ("PostgreSQL", "SQLite"), during[0]  # it names the store
    assert figures["acknowledged"] > 0 and figures["5xx other than 503"] == 0


def _node(tmp_path: Path, url: str, **extra: str) -> tuple[NodeProcess, str]:
    env = cli_env(tmp_path / "data", url, CMAA_COURIER_INTERVAL_SECONDS="0", CMAA_LOG_LEVEL="info",
                  CMAA_STORE_WAIT_SECONDS="3", CMAA_RATE_LIMIT_OFFICIAL="100000/minute", **extra)
    from service.node import build_node

    node = build_node(_settings(env))
    try:
        token = configure(node).official["Authorization"].split()[1]
    finally:
        node.close()
    return NodeProcess(env, free_port()).start(), token


@pytest.mark.postgres
@pytest.mark.parametrize("mode", ["refused", "reset", "blackholed"])
def test_postgres_cut_and_restored_under_traffic(tmp_path, pg_url, mode, capsys):
    proxy = TcpProxy(("127.0.0.1", 5432))
    url = pg_url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/").replace(
        "localhost:5432/", f"127.0.0.1:{proxy.port}/")
    assert str(proxy.port) in url, url
    node, token = _node(tmp_path, url)
    try:
        _run(node, token, f"postgres-{mode}", lambda: proxy.cut(mode), proxy.restore, capsys)
    finally:
        node.stop()
        proxy.close()


def test_sqlite_made_unwritable_and_writable_again_under_traffic(tmp_path, capsys):
    db = tmp_path / "cmaa.db"
    node, token = _node(tmp_path, f"sqlite:///{db}")
    files = [str(db), f"{db}-wal"]

    def cut():
        made = subprocess.run(["chattr", "+i", *files], capture_output=True, text=True)
        assert made.returncode == 0, made.stderr

    try:
        if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(tmp_path / "data")],
                                                        capture_output=True).returncode != 0:
            pytest.skip("needs root and chattr to make the store's files immutable")
        subprocess.run(["chattr", "-i", str(tmp_path / "data")], check=True)
        _run(node, token, "sqlite-unwritable", cut, lambda: subprocess.run(["chattr", "-i", *files], check=True),
             capsys)
    finally:
        subprocess.run(["chattr", "-i", *files], capture_output=True)
        node.stop()
