"""One API call against the bare stack doing the same store call: what the node's own work costs per request.

Two calls an official makes all day, each timed through the same in-process HTTP client (Starlette's TestClient)
against two apps on the same backend in the same run:

* ``POST /cases`` — the node opens a case (authentication, the directory read, the agreement's request rules,
  personal data sealed by the vault, one event committed); the bare app validates the same JSON body with
  pydantic and commits one event holding it (the same ``EventStore`` class, the same recorder).
* ``GET /cases/{id}`` — the node reads a case (authentication, role, the aggregate loaded and its personal data
  opened, the read recorded in the activity log); the bare app loads one aggregate and returns its state.

Prints requests per second of each and the node's ratio to the bare app (issue 20's target is a ratio, not an
absolute figure: these machines vary by 2x from day to day).

    python bench/api_calls.py [--n 500] [--backend sqlite|postgres|both]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from eventsourcing.domain import Aggregate, event  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from pydantic import BaseModel, ConfigDict  # noqa: E402

from adapters.clock import SystemClock  # noqa: E402
from adapters.store import EventStore  # noqa: E402
from bench.stores import drop_schemas, store_urls  # noqa: E402
from tests.factories import client_for, configure, jp_no_request, make_node  # noqa: E402

class Stored(Aggregate):
    @event("Stored")
    def __init__(self, body: dict[str, Any]):
        self.body = body


class Body(BaseModel):
    model_config = ConfigDict(extra="allow")
    agreement: str
    partner_administration: str
    kind: str
    language: str
    content: dict[str, Any]


def bare_app(store: EventStore) -> FastAPI:
    app = FastAPI()

    @app.post("/cases", status_code=201)
    def open_case(body: Body) -> dict:
        record = Stored(body.model_dump())
        store.commit(record)
        return {"id": str(record.id)}

    @app.get("/cases/{case_id}")
    def read_case(case_id: uuid.UUID) -> dict:
        return {"id": str(case_id), "body": store.load(case_id).body}

    return app


def timed(call, n: int) -> tuple[float, float]:
    """(calls per second, CPU ms per call) — CPU of the whole process (client, server and store
    threads alike, the same for both apps), steadier than wall time on a shared machine."""
    for _ in range(max(5, n // 20)):  # warm up: connections, caches, the first statements
        call()
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(n):
        call()
    return n / (time.perf_counter() - start), (time.process_time() - cpu) * 1000 / n


def run(backend: str, n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        (node_url, bare_url), schemas = store_urls(backend, tmp_path, ["node", "bare"])
        # No rate limit in the way: the bench makes more calls a minute than one official is allowed.
        node = make_node(node_url, tmp_path, SystemClock(), rate_limit_official="1000000/minute")
        who = configure(node)
        bare_store = EventStore(bare_url)
        body = jp_no_request()
        try:
            with client_for(node) as api, TestClient(bare_app(bare_store)) as bare:
                created = api.post("/cases", json=body, headers=who.official)
                assert created.status_code == 201, created.text
                case_path = f"/cases/{created.json()['id']}"
                bare_path = f"/cases/{bare.post('/cases', json=body).json()['id']}"
                reading = {**who.official, "X-Purpose": "bench: reading a case"}

                def node_post():
                    assert api.post("/cases", json=body, headers=who.official).status_code == 201

                def bare_post():
                    assert bare.post("/cases", json=body).status_code == 201

                def node_get():
                    assert api.get(case_path, headers=reading).status_code == 200

                def bare_get():
                    assert bare.get(bare_path).status_code == 200

                figures = [("POST /cases", timed(node_post, n), timed(bare_post, n)),
                           ("GET /cases/{id}", timed(node_get, n), timed(bare_get, n))]
        finally:
            node.close()
            bare_store.close()
            drop_schemas(schemas)
        for name, (ours, our_cpu), (floor, floor_cpu) in figures:
            print(f"{backend:8} {name:16} node {ours:7.0f}/s   bare stack {floor:7.0f}/s   "
                  f"ratio {ours / floor:.2f}   (node {1000 / ours:.2f} ms, bare {1000 / floor:.2f} ms per call; "
                  f"CPU {our_cpu:.2f} vs {floor_cpu:.2f} ms, ratio {floor_cpu / our_cpu:.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=500, help="calls of each kind (after a warm-up)")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    for backend in (("sqlite", "postgres") if args.backend == "both" else (args.backend,)):
        run(backend, args.n)


if __name__ == "__main__":
    main()
