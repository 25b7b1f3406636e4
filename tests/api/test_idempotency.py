"""Idempotency-Key (IETF httpapi draft): a retried write is answered, never run twice."""

from __future__ import annotations

import uuid

from tests.factories import jp_no_request


def _count(api, who) -> int:
    return api.get("/cases", headers=who.official).json()["count"]


def test_a_retry_with_the_same_key_returns_the_original_response_and_stores_nothing_more(api, who):
    key = {"Idempotency-Key": f'"{uuid.uuid4()}"', **who.official}
    first = api.post("/cases", json=jp_no_request(), headers=key)
    assert first.status_code == 201
    again = api.post("/cases", json=jp_no_request(), headers=key)
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert _count(api, who) == 1


def test_a_recorded_answer_does_not_rest_readable_in_the_store(api, node, who):
    """The answer to POST /cases names the case's targets: the key's record holds it sealed, under a
    key derived from the credential (which the store never holds), so another credential cannot open it."""
    key = {"Idempotency-Key": "k-sealed", **who.official}
    first = api.post("/cases", json=jp_no_request(), headers=key)
    assert first.status_code == 201 and "Nordlys Import AS" in first.text
    from adapters.idempotency_keys import TABLE, IdempotencyKeys

    rows = IdempotencyKeys(node.store.recorder, 3600)._run(f"SELECT body FROM {{p}}{TABLE}", fetch=True)
    bodies = [bytes(row[0] or b"") for row in rows]
    assert bodies and not any(b"Nordlys" in body for body in bodies)
    again = api.post("/cases", json=jp_no_request(), headers=key)
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"


def test_the_same_key_with_a_different_body_is_422(api, who):
    key = {"Idempotency-Key": "k-1", **who.official}
    assert api.post("/cases", json=jp_no_request(), headers=key).status_code == 201
    other = api.post("/cases", json=jp_no_request(case_description="Another case entirely"), headers=key)
    assert other.status_code == 422
    assert other.json()["type"] == "urn:cmaa:problem:idempotency-key-reused"
    assert _count(api, who) == 1


def test_keys_belong_to_one_credential(api, who):
    assert api.post("/cases", json=jp_no_request(), headers={"Idempotency-Key": "k", **who.official}).status_code == 201
    theirs = api.post("/cases", json=jp_no_request(), headers={"Idempotency-Key": "k", **who.colleague})
    assert theirs.status_code == 201 and "idempotent-replayed" not in theirs.headers
    assert _count(api, who) == 2


def test_a_refused_request_frees_nothing_it_did_not_do_and_an_invalid_key_is_400(api, who):
    headers = {"Idempotency-Key": "k-2", **who.official}
    bad = api.post("/cases", json={"garbage": 1}, headers=headers)
    assert bad.status_code == 422
    assert api.post("/cases", json={"garbage": 1}, headers=headers).json() == bad.json()
    invalid = api.post("/cases", json=jp_no_request(), headers={"Idempotency-Key": "two words", **who.official})
    assert invalid.status_code == 400
    assert invalid.headers["content-type"] == "application/problem+json"


def test_a_key_whose_write_committed_without_a_recorded_answer_is_never_run_again(api, node, who):
    """The process died between the commit and recording the response: the mark made in the
    write's own transaction stops the retry from opening a second case."""
    headers = {"Idempotency-Key": "k-3", **who.official}
    from adapters import idempotency_keys

    original = idempotency_keys.IdempotencyKeys.answer
    idempotency_keys.IdempotencyKeys.answer = lambda *a, **k: (_ for _ in ()).throw(OSError("killed"))
    try:
        assert api.post("/cases", json=jp_no_request(), headers=headers).status_code == 201
    finally:
        idempotency_keys.IdempotencyKeys.answer = original
    retry = api.post("/cases", json=jp_no_request(), headers=headers)
    assert retry.status_code == 409
    assert retry.json()["type"] == "urn:cmaa:problem:idempotency-key-committed"
    assert _count(api, who) == 1



def test_the_official_client_retries_a_lost_answer_with_the_same_key_and_writes_once(node, who):
    """service/http/client.py (used by the demo): the first answer is lost to a 503 after the
    write was stored; the retry carries the same key and gets the original 201."""
    from fastapi.testclient import TestClient

    from service.http.app import create_app
    from service.http.client import post_once

    app = create_app(node=node, run_courier=False)
    lost = [True]

    async def first_answer_lost(scope, receive, send):
        async def replace(message):
            if message["type"] == "http.response.start" and lost:
                lost.clear()
                message = {**message, "status": 503, "headers": [(b"retry-after", b"0")]}
            await send(message)
        await app(scope, receive, replace if scope["type"] == "http" and scope["method"] == "POST" else send)

    with TestClient(first_answer_lost, raise_server_exceptions=False) as api:
        response = post_once(api, "/cases", json=jp_no_request(), headers=who.official)
        assert response.status_code == 201 and response.headers["idempotent-replayed"] == "true"
        assert _count(api, who) == 1
