"""Health, readiness, metrics and rate limits, as an operator and a scraper see them."""

from __future__ import annotations

import re
import threading
import time

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient

from service.http.app import create_app
from tests.exchange_helpers import introduce, setup_node
from tests.factories import client_for, configure, jp_no_request, make_node


def test_healthz_is_public_and_says_nothing_about_cases(api, who):
    api.post("/cases", json=jp_no_request(), headers=who.official)
    response = api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_each_check(api):
    response = api.get("/readyz")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"store", "keys", "sealer", "outbox"}
    assert all(check["ok"] for check in body["checks"].values())


def _age_outbox(node, seconds: int) -> None:
    exchange = node.store.exchange
    exchange._run("UPDATE {p}cmaa_outbox SET next_attempt_at = next_attempt_at - ?", (seconds * 1000,))


def test_readyz_names_a_stuck_outbox(node, who, api, tmp_path, clock):
    jp, _, _ = setup_node(f"sqlite:///{tmp_path / 'jp.db'}", tmp_path, clock, "JP", "Japan Customs", "jp-tanaka")
    try:
        introduce(node, jp)  # JP's directory: a request to it now queues an envelope
        assert api.post("/cases", json=jp_no_request(), headers=who.official).status_code == 201
        assert api.get("/readyz").status_code == 200  # just queued: due, not overdue
        _age_outbox(node, 3600)  # as if no courier had run for an hour
        response = api.get("/readyz")
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("application/problem+json")
        body = response.json()
        assert body["checks"]["outbox"]["ok"] is False
        assert "CMAA_READY_MAX_OUTBOX_OVERDUE_SECONDS" in body["checks"]["outbox"]["detail"]
        assert body["checks"]["store"]["ok"] is True
        assert "outbox" in body["detail"]
        text = api.get("/metrics", headers=who.operator).text
        assert _metric(text, "cmaa_outbox_depth", partner="JP") == 1
        assert _metric(text, "cmaa_outbox_oldest_age_seconds", partner="JP") < 3600  # created now, due long ago
    finally:
        jp.close()


def test_readyz_names_an_unreachable_store_without_a_500(node, api, monkeypatch, tmp_path):
    if node.store.url.startswith("sqlite"):
        monkeypatch.setattr(node.store, "url", f"sqlite:///{tmp_path}/no-such-dir/cmaa.db")
        name = "SQLite"
    else:  # the readiness probe's own connection, to a port where nothing listens
        pool = node.store.factory.datastore.pool
        monkeypatch.setattr(pool, "kwargs", {**pool.kwargs, "port": 1})
        name = "PostgreSQL 127.0.0.1:"
    response = api.get("/readyz")
    assert response.status_code == 503
    check = response.json()["checks"]["store"]
    assert check["ok"] is False and check["detail"].startswith(name), check


def test_readyz_fails_when_the_sealer_falls_behind(store_url, tmp_path, clock):
    node = make_node(store_url, tmp_path, clock, ready_max_sealer_lag_events=3)
    try:
        who = configure(node)  # writes more than three events; nothing sealed them
        with client_for(node) as api:
            response = api.get("/readyz")
            assert response.status_code == 503
            assert "not sealed" in response.json()["checks"]["sealer"]["detail"]
            node.audit.seal_and_checkpoint()
            assert api.get("/readyz").status_code == 200
            assert who  # the configured officials exist; the check above is about the log
    finally:
        node.close()


def _metric(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(match.group(3))
    return None


def test_metrics_need_the_operator_role(api, who):
    assert api.get("/metrics").status_code == 401
    refused = api.get("/metrics", headers=who.official)
    assert refused.status_code == 403
    assert "operator" in refused.json()["detail"]
    assert api.get("/metrics", headers=who.operator).status_code == 200


def test_metrics_count_requests_by_route_template_not_by_path(api, who):
    case = api.post("/cases", json=jp_no_request(), headers=who.official).json()
    api.get(f"/cases/{case['id']}", headers=who.official)
    api.get(f"/cases/{case['id']}", headers=who.official)
    text = api.get("/metrics", headers=who.operator).text
    assert _metric(text, "cmaa_http_requests_total", method="GET", route="/cases/{case_id}", status="200") == 2
    assert _metric(text, "cmaa_http_requests_total", method="POST", route="/cases", status="201") == 1
    assert _metric(text, "cmaa_http_request_duration_seconds_count", method="GET", route="/cases/{case_id}") == 2
    assert case["id"] not in text
    assert "Nordlys" not in text and "NO-987654321" not in text
    assert _metric(text, "cmaa_merkle_log_size") is not None
    assert _metric(text, "cmaa_sealer_lag_events") > 0
    assert _metric(text, "cmaa_store_up") == 1


def test_every_response_carries_a_request_id_and_keeps_a_plain_one_from_the_caller(api):
    generated = api.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert api.get("/healthz", headers={"X-Request-Id": "trace-42"}).headers["x-request-id"] == "trace-42"
    injected = api.get("/healthz", headers={"X-Request-Id": 'x" level="error'}).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", injected)


def test_an_official_over_the_rate_limit_gets_429_with_retry_after_and_nothing_is_stored(store_url, tmp_path, clock):
    node = make_node(store_url, tmp_path, clock, rate_limit_official="3/minute")
    try:
        who = configure(node)
        with client_for(node) as api:
            for _ in range(3):
                assert api.get("/cases", headers=who.official).status_code == 200
            before = node.store.recorder.max_notification_id()
            response = api.post("/cases", json=jp_no_request(), headers=who.official)
            assert response.status_code == 429
            assert response.headers["content-type"].startswith("application/problem+json")
            assert 1 <= int(response.headers["Retry-After"]) <= 60
            body = response.json()
            assert body["type"] == "urn:cmaa:problem:rate-limited" and body["limit"] == "official"
            assert node.store.recorder.max_notification_id() == before
            # Another official has a budget of their own.
            assert api.get("/cases", headers=who.colleague).status_code == 200
            text = api.get("/metrics", headers=who.operator).text
            assert _metric(text, "cmaa_rate_limited_total", limit="official") == 1
    finally:
        node.close()


@pytest.mark.parametrize("rate", ["lots", "10/fortnight", ""])
def test_a_malformed_rate_is_refused_at_start_up_naming_the_setting(rate, tmp_path):
    from pydantic import ValidationError

    from service.settings import Settings

    with pytest.raises(ValidationError) as error:
        Settings(data_dir=tmp_path, rate_limit_official=rate)
    assert "rate_limit_official" in str(error.value)


def test_two_apps_on_one_node_share_its_metrics(node, who):
    # The courier, the inbox and every API replica in a process report into one registry.
    first = TestClient(create_app(node=node, run_courier=False))
    second = TestClient(create_app(node=node, run_courier=False))
    first.get("/healthz")
    second.get("/healthz")
    text = second.get("/metrics", headers=who.operator).text
    assert _metric(text, "cmaa_http_requests_total", route="/healthz", status="200") == 2


def _limiter_tokens(client: TestClient) -> tuple[int, int]:
    limiter = client.portal.call(anyio.to_thread.current_default_thread_limiter)
    return limiter.total_tokens, limiter.borrowed_tokens


@pytest.mark.parametrize("threads", [1, 3])
def test_blocking_work_runs_on_as_many_worker_threads_as_configured(store_url, tmp_path, clock, threads):
    node = make_node(store_url, tmp_path, clock, api_threads=threads)
    try:
        with TestClient(create_app(node=node, run_courier=False)) as client:
            assert _limiter_tokens(client) == (threads, 0)
    finally:
        node.close()


def test_health_is_answered_while_every_worker_thread_is_busy(node):
    """/healthz never waits for a worker thread: with every one held by a long request (1 on SQLite,
    4 on PostgreSQL by default) it still answers at once, so an orchestrator does not restart a busy node."""
    with TestClient(create_app(node=node, run_courier=False)) as client:
        release = threading.Event()
        threads = node.settings.api_threads
        blockers = [client.portal.start_task_soon(anyio.to_thread.run_sync, release.wait, 30) for _ in range(threads)]
        deadline = time.monotonic() + 30
        while _limiter_tokens(client) != (threads, threads):
            assert time.monotonic() < deadline, _limiter_tokens(client)
            time.sleep(0.01)
        try:
            assert client.get("/healthz").status_code == 200
            assert not any(blocker.done() for blocker in blockers)  # answered while every worker was held
        finally:
            release.set()
            for blocker in blockers:
                blocker.result(timeout=30)


def test_the_number_of_worker_threads_is_validated():
    from pydantic import ValidationError

    from service.settings import Settings

    with pytest.raises(ValidationError, match="api_threads"):
        Settings(api_threads=0)


def test_a_node_in_a_process_of_its_own_leaves_its_start_up_heap_out_of_full_collections(node):
    """``cmaa serve`` (and each worker) freezes what start-up built: a full collection then walks only what
    came later (it walked ~140,000 objects, 80-100 ms with the process stopped, every few seconds under
    load; docs/performance.md). An app embedded in another process (tests, the demo) leaves the heap alone."""
    import gc

    gc.unfreeze()
    try:
        with TestClient(create_app(node=node, run_courier=False)):
            assert gc.get_freeze_count() == 0  # embedded: not its heap to freeze
        with TestClient(create_app(node=node, run_courier=False, own_process=True)) as client:
            assert gc.get_freeze_count() > 10_000
            assert client.get("/healthz").status_code == 200
    finally:
        gc.unfreeze()
