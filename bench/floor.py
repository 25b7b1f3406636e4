"""The floor of the fixed stack: the skeleton of a full exchange, with nothing of ours in it.

What ``bench/exchange.py`` measures is bounded by what the project's fixed choices
cost on this machine before any of the node's own work: FastAPI under uvicorn,
httpx, the eventsourcing library's SQLite recorder and the JOSE libraries. This
script runs the same process topology as that bench — a driver with four client
threads, a sending server, a courier process beside it, a receiving server, on the
same two cores — doing only the irreducible steps of one full exchange:

1. driver: ``POST /requests`` (JSON) to the sending server;
2. sender (FastAPI, sync endpoint): validates the body with pydantic and stores one
   event with eventsourcing (SQLite, WAL, synchronous=full, as the node's default; or
   PostgreSQL with ``--backend postgres``);
3. courier (own process): reads new events from the sender's notification log,
   signs and encrypts each (``adapters/jose.py``: JWS Ed25519 in JWE ECDH-ES+A256KW /
   A256GCM), posts it to the receiver over HTTP with 8 worker threads;
4. receiver (FastAPI): decrypts, verifies, stores one event, signs a receipt;
5. courier: verifies the receipt and stores one event on the sender's store.

No authentication, authorisation, treaty rules, vault, outbox table, de-duplication,
audit log, metrics or logging: the node does all of that on top. The skeleton's
full exchanges per second is therefore an upper bound for the node's on this
machine with this stack.

    python bench/floor.py [--n 2000] [--batch 16] [--backend sqlite|postgres]

``--backend postgres`` stores both servers' events in schemas of the test PostgreSQL
(``bench/stores.py``) with the library's own PostgreSQL recorder, and reports the
PostgreSQL server's CPU per exchange beside the processes'.

``--batch B`` lets the skeleton's courier post up to B envelopes in one request and
store them in one transaction: what one HTTP request and one commit per envelope
cost, measured (the node's inbox takes one envelope per request).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from uuid import uuid4

from eventsourcing.domain import Aggregate, event
from pydantic import BaseModel, ConfigDict

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def store(location: str):
    """A SQLite file, or ``postgres:<schema>``: a schema of the test PostgreSQL (``bench/stores.py``)."""
    from eventsourcing.application import Application

    class Store(Application):
        name = "floor"

    if not location.startswith("postgres:"):
        return Store(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": location,
                          "SQLITE_LOCK_TIMEOUT": "10", "CREATE_TABLE": "y"})
    from urllib.parse import urlsplit

    from bench.stores import PG

    url = urlsplit(PG)
    return Store(env={"PERSISTENCE_MODULE": "eventsourcing.postgres", "POSTGRES_DBNAME": url.path.lstrip("/"),
                      "POSTGRES_HOST": url.hostname or "127.0.0.1", "POSTGRES_PORT": str(url.port or 5432),
                      "POSTGRES_USER": url.username or "postgres", "POSTGRES_PASSWORD": url.password or "",
                      "POSTGRES_SCHEMA": location.split(":", 1)[1], "POSTGRES_LOCK_TIMEOUT": "10",
                      "CREATE_TABLE": "y"})


def location(tmp: Path, name: str) -> str:
    """Where ``name``'s events are: ``tmp/stores.json`` maps names to PostgreSQL schemas on that back end."""
    mapped = tmp / "stores.json"
    if mapped.exists():
        return "postgres:" + json.loads(mapped.read_text())[name]
    return str(tmp / f"{name}.db")


class Item(Aggregate):
    @event("Requested")
    def __init__(self, body: dict):
        self.body = body
        self.receipt = None

    @event("Delivered")
    def delivered(self, receipt: str):
        self.receipt = receipt


def keys(tmp: Path):
    """Ed25519 + X25519 for both ends, written once so every process reads the same."""
    from joserfc.jwk import OKPKey

    path = tmp / "keys.json"
    if not path.exists():
        made = {name: OKPKey.generate_key(crv, parameters={"kid": name}).as_dict(private=True)
                for name, crv in (("sender-sig", "Ed25519"), ("receiver-sig", "Ed25519"), ("receiver-enc", "X25519"))}
        path.write_text(json.dumps(made))
    return {name: OKPKey.import_key(value) for name, value in json.loads(path.read_text()).items()}


class Body(BaseModel):
    """The node's request body, accepted as it is (the node validates every field)."""

    model_config = ConfigDict(extra="allow")


def sender_app(tmp: Path):
    from fastapi import FastAPI

    app, events = FastAPI(), store(location(tmp, "sender"))

    @app.post("/requests", status_code=201)
    def request(body: Body) -> dict:
        item = Item(body.model_dump())
        events.save(item)
        return {"id": str(item.id)}

    return app


def receiver_app(tmp: Path):
    from fastapi import FastAPI

    from adapters import jose

    app, events, k = FastAPI(), store(location(tmp, "receiver")), keys(tmp)

    def accept(raw: dict) -> tuple[Item, dict]:
        inner = jose.decrypt(raw, "receiver-enc", k["receiver-enc"])
        _, claims = jose.verify(inner, lambda kid: k["sender-sig"], jose.ENVELOPE_JWS_TYP)
        item = Item(claims)
        receipt = jose.sign({"envelope": jose.sha256_hex(inner.encode()), "item": str(item.id)},
                            k["receiver-sig"], "cmaa-receipt+jws")
        return item, {"receipt": receipt}

    @app.post("/inbox")
    def inbox(raw: dict) -> dict:
        item, receipt = accept(raw)
        events.save(item)
        return receipt

    @app.post("/inbox-batch")
    def inbox_batch(raws: list[dict]) -> list[dict]:
        accepted = [accept(raw) for raw in raws]
        events.save(*(item for item, _ in accepted))
        return [receipt for _, receipt in accepted]

    return app


def courier(tmp: Path, receiver: str, n: int, warm: int, batch_size: int = 1) -> None:
    import httpx

    from adapters import jose

    events, k = store(location(tmp, "sender")), keys(tmp)
    public = {"receiver-enc": k["receiver-enc"].as_dict(private=False)}
    http = httpx.Client(base_url=receiver, timeout=30)
    position, delivered, cpu_at_warm = 0, 0, None

    def deliver(notifications: list) -> None:
        """One request per envelope (as the node), or one for all of ``notifications`` (``--batch``)."""
        items = [events.repository.get(x.originator_id) for x in notifications]
        sealed = [jose.encrypt(jose.sign({"id": str(uuid4()), "body": item.body, "sent_at": time.time()},
                                         k["sender-sig"], jose.ENVELOPE_JWS_TYP), public) for item in items]
        if batch_size > 1:
            response = http.post("/inbox-batch", json=sealed)
        else:
            response = http.post("/inbox", json=sealed[0])
        response.raise_for_status()
        answers = response.json() if batch_size > 1 else [response.json()]
        for item, answer in zip(items, answers):
            jose.verify(answer["receipt"], lambda kid: k["receiver-sig"], "cmaa-receipt+jws")
            item.delivered(answer["receipt"])
        events.save(*items)

    with ThreadPoolExecutor(8) as pool:
        while delivered < n:
            batch = [x for x in events.recorder.select_notifications(position + 1, 64)]
            if batch:
                position = batch[-1].id
            requested = [x for x in batch if x.topic.endswith("Requested")]
            if not requested:
                time.sleep(0.005)
                continue
            list(pool.map(deliver, [requested[i:i + batch_size] for i in range(0, len(requested), batch_size)]))
            delivered += len(requested)
            if cpu_at_warm is None and delivered >= warm:
                cpu_at_warm = time.process_time()
    print(time.time(), (time.process_time() - cpu_at_warm) / (n - warm), flush=True)


def serve(which: str, tmp: Path, port: int) -> None:
    import uvicorn

    app = sender_app(tmp) if which == "sender" else receiver_app(tmp)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)


def run(n: int, batch: int = 1, backend: str = "sqlite") -> dict:
    """``backend`` ``postgres``: both servers' events in schemas of the test PostgreSQL, with the
    eventsourcing library's own PostgreSQL recorder; the server's CPU is reported beside the processes'."""
    from bench.stores import drop_schemas, store_urls
    from tests.factories import jp_no_request

    body = jp_no_request()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        keys(tmp)
        schemas = []
        if backend == "postgres":
            _, schemas = store_urls("postgres", tmp, ["sender", "receiver"])
            (tmp / "stores.json").write_text(json.dumps(dict(zip(["sender", "receiver"], schemas))))
        try:
            return _run(tmp, n, batch, body, backend)
        finally:
            drop_schemas(schemas)


def _run(tmp: Path, n: int, batch: int, body: dict, backend: str) -> dict:
    import httpx

    from bench.stores import cpu_seconds, postgres_cpu_seconds
    from tests.servers import free_port

    ports = {"sender": free_port(), "receiver": free_port()}
    me = [sys.executable, str(Path(__file__).resolve())]
    servers = {name: subprocess.Popen([*me, "--role", name, "--tmp", str(tmp), "--port", str(port)])
               for name, port in ports.items()}
    try:
        for port in ports.values():
            for _ in range(100):
                try:
                    httpx.get(f"http://127.0.0.1:{port}/docs", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
        warm = 50
        with httpx.Client(base_url=f"http://127.0.0.1:{ports['sender']}") as post:
            for _ in range(warm):
                post.post("/requests", json=body).raise_for_status()
        courier_process = subprocess.Popen([*me, "--role", "courier", "--tmp", str(tmp), "--port",
                                            str(ports["receiver"]), "--n", str(n + warm), "--warm", str(warm),
                                            "--batch", str(batch)], stdout=subprocess.PIPE, text=True)
        time.sleep(2)  # the courier delivers the warm-up requests first
        pids = {"sender": servers["sender"].pid, "receiver": servers["receiver"].pid}
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        server_before = postgres_cpu_seconds() if backend == "postgres" else None
        driver_before = time.process_time()
        counter, lock, start = iter(range(n)), threading.Lock(), time.time()

        def worker():
            with httpx.Client(base_url=f"http://127.0.0.1:{ports['sender']}", timeout=30) as client:
                while True:
                    with lock:
                        if next(counter, None) is None:
                            return
                    client.post("/requests", json=body).raise_for_status()

        threads = [threading.Thread(target=worker) for _ in range(4)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        driver_cpu = time.process_time() - driver_before
        finished, courier_cpu = map(float, courier_process.communicate(timeout=300)[0].split())
        cpu = {name: round((cpu_seconds(pid) - before[name]) * 1000 / n, 2) for name, pid in pids.items()}
        cpu["courier"] = round(courier_cpu * 1000, 2)
        cpu["driver"] = round(driver_cpu * 1000 / n, 2)
        if server_before is not None:
            cpu["postgresql server"] = round((postgres_cpu_seconds() - server_before) * 1000 / n, 2)
        return {"n": n, "backend": backend, "exchanges_per_s": n / (finished - start), "cpu_ms_per_exchange": cpu}
    finally:
        for process in servers.values():
            process.terminate()
            process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--role", choices=["sender", "receiver", "courier"])
    parser.add_argument("--tmp")
    parser.add_argument("--port", type=int)
    parser.add_argument("--warm", type=int, default=0)
    parser.add_argument("--batch", type=int, default=1, help="envelopes per courier request (1: one each, as the node)")
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite",
                        help="where both servers store their events (postgres: the test server, bench/stores.py)")
    args = parser.parse_args()
    if args.role in ("sender", "receiver"):
        return serve(args.role, Path(args.tmp), args.port)
    if args.role == "courier":
        return courier(Path(args.tmp), f"http://127.0.0.1:{args.port}", args.n, args.warm, args.batch)
    result = run(args.n, args.batch, args.backend)
    print(json.dumps(result))
    print(describe(result, args.batch))


def describe(result: dict, batch: int = 1) -> str:
    per = "one envelope per request" if batch == 1 else f"up to {batch} envelopes per request"
    return (f"skeleton of the fixed stack on {result.get('backend', 'sqlite')} ({per}): {result['exchanges_per_s']:.1f} full exchanges/s at max load; "
            "CPU ms per exchange: " + ", ".join(f"{k} {v}" for k, v in result["cpu_ms_per_exchange"].items()))


if __name__ == "__main__":
    main()
