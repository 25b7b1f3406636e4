"""Operating two nodes: request ids across the exchange, delivery metrics, partner rate limits."""

from __future__ import annotations

import io
import json
import logging
import time

from service.ops.observability import JsonFormatter
from service.http.ratelimit import RateLimiter
from tests.api.test_operations import _metric
from tests.factories import jp_no_request


def _json_log():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("cmaa")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)

    def lines():
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    def close():
        logger.removeHandler(handler)
        logger.setLevel(previous)

    return lines, close


def test_one_request_id_follows_a_message_from_the_api_call_to_delivery_and_receipt(nodes):
    no, jp = nodes
    lines, close = _json_log()
    try:
        case = no.api.post("/cases", json=jp_no_request(), headers={**no.official, "X-Request-Id": "trace-7f3a"})
        assert case.status_code == 201
        [row] = no.node.store.exchange.pending()
        assert row["request_id"] == "trace-7f3a"
        assert no.deliver() == 1
    finally:
        close()
    traced = [line for line in lines() if line.get("request_id") == "trace-7f3a"]
    messages = [(line["logger"], line["msg"]) for line in traced]
    assert ("cmaa.access", "request") in messages                                    # the API call at NO
    assert ("cmaa.inbox", "envelope accepted; receipt signed") in messages           # the receiver, JP
    assert ("cmaa.courier", "envelope delivered; receipt verified and stored") in messages  # back at NO
    delivered = next(line for line in traced if line["logger"] == "cmaa.courier")
    assert delivered["envelope_id"] == row["envelope_id"] and delivered["partner"] == "JP"


def test_inbound_rejections_are_counted_by_step_and_code(nodes):
    no, jp = nodes
    response = jp.api.post("/exchange/inbox", content=b"not json", headers={"Content-Type": "application/jose+json"})
    assert response.status_code == 400
    text = jp.api.get("/metrics", headers=jp.operator).text
    assert _metric(text, "cmaa_inbound_rejections_total", step="1", code="malformed") == 1
    assert _metric(text, "cmaa_inbound_envelopes_total", outcome="rejected") == 1


def test_deliveries_are_counted_by_partner_and_outcome(nodes):
    no, jp = nodes
    no.api.post("/cases", json=jp_no_request(), headers=no.official)
    text = no.api.get("/metrics", headers=no.operator).text
    assert _metric(text, "cmaa_outbox_depth", partner="JP") == 1
    no.deliver()
    text = no.api.get("/metrics", headers=no.operator).text
    assert _metric(text, "cmaa_deliveries_total", partner="JP", outcome="delivered") == 1
    assert _metric(text, "cmaa_outbox_depth", partner="JP") is None  # nothing waiting
    assert _metric(jp.api.get("/metrics", headers=jp.operator).text, "cmaa_inbound_envelopes_total",
                   outcome="accepted") == 1


def test_a_partner_over_its_rate_limit_is_answered_429_and_the_sender_retries_later(nodes):
    no, jp = nodes
    jp.node.exchange.limiter = RateLimiter(official="600/minute", partner="1/minute", metrics=jp.node.metrics)
    first = no.api.post("/cases", json=jp_no_request(), headers=no.official).json()
    second = no.api.post("/cases", json=jp_no_request(reason="A second, separate suspicion"),
                         headers=no.official).json()
    assert no.deliver() == 1  # one accepted, one refused with 429
    [waiting] = no.node.store.exchange.pending()
    assert waiting["case_id"] in (first["id"], second["id"])
    assert waiting["last_error"] == "HTTP 429: partner rate limit"
    # The partner's Retry-After (up to a minute) is honoured, not the first backoff (under a second).
    assert waiting["next_attempt_at"] - time.time() * 1000 > 30_000
    assert _metric(no.api.get("/metrics", headers=no.operator).text, "cmaa_delivery_retries_total",
                   partner="JP", reason="rate-limited") == 1
    assert _metric(jp.api.get("/metrics", headers=jp.operator).text, "cmaa_rate_limited_total",
                   limit="partner") == 1
    jp_events = jp.node.store.recorder.max_notification_id()

    # The window passes; the courier tries again and the envelope is applied once.
    jp.node.exchange.limiter = RateLimiter(official="600/minute", partner="1/minute", metrics=jp.node.metrics)
    no.node.store.exchange._run("UPDATE {p}cmaa_outbox SET next_attempt_at = 0 WHERE envelope_id = ?",
                                (waiting["envelope_id"],))
    assert no.deliver() == 1
    assert no.node.store.exchange.pending() == []
    assert jp.node.store.recorder.max_notification_id() > jp_events


def test_a_stopping_courier_hands_back_what_it_claimed_at_once(nodes):
    no, jp = nodes
    for reason in ("first suspicion", "second suspicion", "third suspicion"):
        no.api.post("/cases", json=jp_no_request(reason=reason), headers=no.official)
    no.node.courier.stopping.set()
    assert no.deliver() == 0  # claimed, then released without sending
    rows = no.node.store.exchange.pending()
    assert len(rows) == 3
    assert all(row["lease_owner"] is None and row["last_error"] == "node shutting down" for row in rows)
    assert all(row["attempts"] == 0 for row in rows)
    assert jp.node.store.recorder.max_notification_id() == jp_events_before(jp)
    no.node.courier.stopping.clear()  # the next process (or this one, restarted) delivers them
    assert no.deliver() == 3


def jp_events_before(jp) -> int:
    return jp.node.store.recorder.max_notification_id()


def test_in_production_the_courier_never_sends_over_plain_http(nodes):
    no, jp = nodes
    no.node.courier.production = True  # the partner's published endpoint is http://jp.node.test
    no.api.post("/cases", json=jp_no_request(), headers=no.official)
    before = jp.node.store.recorder.max_notification_id()
    assert no.deliver() == 0
    [row] = no.node.store.exchange.pending()
    assert "plain HTTP" in row["last_error"] and row["attempts"] == 0
    assert jp.node.store.recorder.max_notification_id() == before
