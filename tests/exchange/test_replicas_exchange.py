"""Several node instances on one PostgreSQL database: one courier per envelope, one application."""

from __future__ import annotations

import json
import threading
from collections import Counter

import pytest
from fastapi.testclient import TestClient

from service.http.app import create_app
from service.node import build_node
from tests.exchange_helpers import connect, setup_node
from tests.factories import jp_no_request

pytestmark = pytest.mark.postgres


def replica_of(node):
    """A second process's view of the same node: its own connection pool, same database and keys."""
    return build_node(node.settings, clock=node.clock)


def test_each_outbox_envelope_is_delivered_by_one_courier(pg_url, pg_url_second, tmp_path, clock):
    no, _, no_official = setup_node(pg_url, tmp_path, clock, "NO", "Norwegian Customs", "no-hansen")
    jp, _, _ = setup_node(pg_url_second, tmp_path, clock, "JP", "Japan Customs", "jp-tanaka")
    connect(no, jp)
    replicas = [no, replica_of(no), replica_of(no)]
    received: Counter = Counter()
    inbox = TestClient(create_app(node=jp, run_courier=False))
    original_post = inbox.post

    def counting_post(url, **kwargs):  # envelopes, one per request or several (docs/envelope-format.md §3.5)
        several = url.endswith("/inbox/batch")
        received[url] += len(json.loads(kwargs["content"])["envelopes"]) if several else 1
        return original_post(url, **kwargs)

    inbox.post = counting_post
    for replica in replicas:
        replica.courier.http = inbox
        replica.courier.batch = 5
    with TestClient(create_app(node=no, run_courier=False)) as api:
        for _ in range(30):
            assert api.post("/cases", json=jp_no_request(), headers=no_official).status_code == 201

    def drain(replica):
        while replica.courier.deliver_due():
            pass

    threads = [threading.Thread(target=drain, args=(r,)) for r in replicas]
    [t.start() for t in threads]
    [t.join() for t in threads]

    rows = no.store.exchange._select("", ())
    assert len(rows) == 30
    assert {r["status"] for r in rows} == {"delivered"}
    assert [r["attempts"] for r in rows] == [1] * 30, "an envelope was sent by two couriers"
    assert sum(received.values()) == 30
    for replica in replicas[1:]:
        replica.close()
    no.close()
    jp.close()


def test_a_retry_reaching_two_replicas_at_once_is_applied_once(pg_url, pg_url_second, tmp_path, clock):
    no, _, no_official = setup_node(pg_url, tmp_path, clock, "NO", "Norwegian Customs", "no-hansen")
    jp, _, jp_official = setup_node(pg_url_second, tmp_path, clock, "JP", "Japan Customs", "jp-tanaka")
    connect(no, jp)
    jp_replica = replica_of(jp)
    with TestClient(create_app(node=no, run_courier=False)) as api:
        api.post("/cases", json=jp_no_request(), headers=no_official)
    [row] = no.store.exchange.pending()
    import json

    payload, _ = no.exchange.open_outbox_payload(row)
    copies = [no.exchange.seal(payload) for _ in range(2)]  # two re-sealed copies of one envelope
    receipts, errors = [], []
    barrier = threading.Barrier(2)

    def deliver(node, raw):
        barrier.wait()
        try:
            receipts.append(node.exchange.receive(raw))
        except Exception as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=deliver, args=(n, c)) for n, c in zip((jp, jp_replica), copies)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == [] and len(receipts) == 2 and receipts[0] == receipts[1]
    with TestClient(create_app(node=jp, run_courier=False)) as jp_api:
        assert jp_api.get("/cases", headers=jp_official).json()["count"] == 1
    jp_replica.close()
    no.close()
    jp.close()
