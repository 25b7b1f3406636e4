"""Several envelopes in one request (docs/envelope-format.md §3.5): each answered as if alone, one
refusal refusing no other, the applied ones stored together; the courier sends them that way under
load, in each case's order, and one by one to a partner without batches."""

from __future__ import annotations

import base64
import hashlib
import json
from uuid import UUID, uuid4

import httpx
import pytest

from adapters.sql import now_ms
from domain.messages import local_case_id
from tests.factories import item, jp_no_request
from tests.published_schemas import violations

BATCH = "/exchange/inbox/batch"


def _sealed(side, case_id: str | None = None) -> list[str]:
    """The side's pending outbox envelopes (of one case, if given), sealed as its courier would."""
    rows = side.node.store.exchange.pending()
    if case_id is not None:
        rows = [r for r in rows if r["case_id"] == case_id]
    out = []
    for row in rows:
        payload, _ = side.node.exchange.open_outbox_payload(row)
        out.append(side.node.exchange.seal(payload).decode())
    return out


def _open_cases(no, n: int) -> list[str]:
    return [no.api.post("/cases", json=jp_no_request(), headers=no.official).json()["id"] for _ in range(n)]


def _theirs(case_id: str) -> str:
    return str(local_case_id("JP", "NO", UUID(case_id)))


def _tampered(envelope: str) -> str:
    data = json.loads(envelope)
    tag = bytearray(base64.urlsafe_b64decode(data["tag"] + "=="))
    tag[0] ^= 1
    data["tag"] = base64.urlsafe_b64encode(bytes(tag)).rstrip(b"=").decode()
    return json.dumps(data)


def _jp_history(jp, case_id: str) -> list[str]:
    response = jp.api.get(f"/cases/{_theirs(case_id)}/history", headers=jp.official)
    return [e["event"] for e in response.json()["data"]] if response.status_code == 200 else []


def test_each_envelope_of_a_batch_is_answered_as_alone_and_a_refused_one_refuses_no_other(nodes):
    no, jp = nodes
    cases = _open_cases(no, 3)
    envelopes = _sealed(no)
    envelopes[1] = _tampered(envelopes[1])

    response = jp.api.post(BATCH, json={"envelopes": envelopes})

    assert response.status_code == 200, response.text
    assert violations("inbox-batch.schema.json", {"envelopes": envelopes}) == []
    assert violations("inbox-batch-answer.schema.json", response.json()) == []
    results = response.json()["results"]
    assert [r["status"] for r in results] == [200, 400, 200]
    for envelope, result in zip(envelopes, results):
        assert result["envelope_sha256"] == hashlib.sha256(envelope.encode()).hexdigest()
    rows = {r["case_id"]: r for r in no.node.store.exchange.pending()}
    for index in (0, 2):
        no.node.exchange.verify_receipt("JP", results[index]["receipt"], rows[cases[index]]["envelope_id"],
                                        [results[index]["envelope_sha256"]])  # raises unless it is this one's
        assert _jp_history(jp, cases[index]) == ["RequestReceived"]
    refused = results[1]["problem"]
    assert violations("inbox-problem.schema.json", refused) == []
    assert refused["step"] == 3 and refused["type"] == "urn:cmaa:problem:envelope-" + refused["code"]
    claims = no.node.exchange.verify_rejection("JP", refused["signed_rejection"])
    assert claims["envelope_sha256"] == results[1]["envelope_sha256"] and claims["step"] == 3
    assert _jp_history(jp, cases[1]) == []  # nothing of the refused one stored


def test_an_envelope_sent_again_in_a_batch_gets_its_receipt_and_is_applied_once(nodes):
    no, jp = nodes
    first, second = _open_cases(no, 2)
    one, two = _sealed(no, first)[0], _sealed(no, second)[0]
    alone = jp.api.post("/exchange/inbox", content=one, headers={"Content-Type": "application/jose+json"})
    assert alone.status_code == 200

    # Sent before, and one id twice in the same batch: the second after the first is stored.
    results = jp.api.post(BATCH, json={"envelopes": [one, two, two]}).json()["results"]

    assert [r["status"] for r in results] == [200, 200, 200]
    assert results[0]["receipt"] == alone.json()["receipt"]
    assert results[1]["receipt"] == results[2]["receipt"]
    assert _jp_history(jp, first) == ["RequestReceived"] and _jp_history(jp, second) == ["RequestReceived"]


def test_two_steps_of_one_case_in_one_batch_are_applied_in_their_order(nodes):
    no, jp = nodes
    [case_id] = _open_cases(no, 1)
    assert no.deliver() == 1
    theirs = _theirs(case_id)
    assert jp.api.post(f"/cases/{theirs}/acknowledgement", headers=jp.official).status_code in (200, 201)
    assert jp.api.post(f"/cases/{theirs}/replies", headers=jp.official,
                       json={"items": [item()]}).status_code in (200, 201)
    acknowledgement, reply = _sealed(jp, theirs)

    results = no.api.post(BATCH, json={"envelopes": [acknowledgement, reply]}).json()["results"]

    assert [r["status"] for r in results] == [200, 200]
    history = no.api.get(f"/cases/{case_id}/history", headers=no.official).json()["data"]
    assert [e["data"].get("step") for e in history if e["event"] == "PartnerStepReceived"] == [
        "acknowledgement", "reply"]
    assert no.api.get(f"/cases/{case_id}", headers=no.official).json()["status"] == "replied"


@pytest.mark.parametrize("body, field", [
    ({"envelopes": []}, "envelopes"),
    ({"envelopes": ["x"] * 65}, "envelopes"),
    ({"envelopes": [{"protected": "e30"}]}, "envelopes.0"),
    ({"envelope": ["x"]}, "envelopes"),
    ([], "body"),
])
def test_what_is_not_a_batch_gets_a_problem_naming_the_field_and_nothing_is_stored(nodes, body, field):
    no, jp = nodes
    before = jp.node.store.exchange._run("SELECT COUNT(*) AS n FROM {p}cmaa_inbox", (), fetch=True)

    response = jp.api.post(BATCH, json=body)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["field"] == field
    assert jp.node.store.exchange._run("SELECT COUNT(*) AS n FROM {p}cmaa_inbox", (), fetch=True) == before


def test_a_body_that_is_not_json_and_one_over_the_size_limit_get_problems(nodes):
    no, jp = nodes
    response = jp.api.post(BATCH, content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["status"] == 422
    limit = jp.node.settings.max_body_bytes
    response = jp.api.post(BATCH, json={"envelopes": ["x" * (limit + 1)]})
    assert response.status_code == 413 and response.json()["type"] == "urn:cmaa:problem:http-413"


class _Counting(httpx.BaseTransport):
    """The partner's app behind a transport that counts envelopes per path (and can answer for it)."""

    def __init__(self, client, answer=None):
        self.client, self.answer, self.seen = client, answer, []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        several = request.url.path.endswith("/inbox/batch")
        self.seen.append((request.url.path, len(json.loads(request.content)["envelopes"]) if several else 1))
        if self.answer is not None:
            answered = self.answer(request)
            if answered is not None:
                return answered
        response = self.client.post(request.url.path, content=request.content,
                                    headers={"Content-Type": request.headers["Content-Type"]})
        return httpx.Response(response.status_code, headers=response.headers, content=response.content)


def test_the_courier_sends_the_envelopes_of_a_pass_in_one_request_and_records_each_once(nodes):
    no, jp = nodes
    counting = _Counting(no.node.courier.http)
    no.node.courier.http = httpx.Client(transport=counting, base_url="http://jp.node.test")
    cases = _open_cases(no, 5)

    assert no.deliver() == 5

    assert counting.seen == [(BATCH, 5)]
    for case_id in cases:
        assert _jp_history(jp, case_id) == ["RequestReceived"]
        events = [e["event"] for e in no.api.get(f"/cases/{case_id}/history", headers=no.official).json()["data"]]
        assert events.count("EnvelopeDelivered") == 1
    assert {r["status"] for r in no.node.store.exchange._select("", ())} == {"delivered"}


def test_the_courier_sends_one_per_request_to_a_partner_without_batches(nodes):
    no, jp = nodes
    counting = _Counting(no.node.courier.http, answer=lambda request: httpx.Response(404, json={
        "type": "about:blank", "title": "Not Found", "status": 404}) if request.url.path.endswith("/batch") else None)
    no.node.courier.http = httpx.Client(transport=counting)
    _open_cases(no, 3)
    assert no.deliver() == 3
    _open_cases(no, 2)
    assert no.deliver() == 2

    # Asked once; from then on one envelope per request.
    assert counting.seen == [(BATCH, 3)] + [("/exchange/inbox", 1)] * 5
    assert {r["status"] for r in no.node.store.exchange._select("", ())} == {"delivered"}


def _altered(jp, change):
    """The partner's real answer to a batch, changed by ``change(results)`` on its way back."""
    def answer(request):
        if not request.url.path.endswith("/batch"):
            return None
        answered = jp.api.post(BATCH, content=request.content, headers={"Content-Type": "application/json"}).json()
        change(answered["results"])
        return httpx.Response(200, json=answered)
    return answer


def test_a_batch_answer_whose_receipts_do_not_match_their_envelopes_delivers_nothing(nodes):
    no, jp = nodes
    swapped = _altered(jp, lambda results: results.reverse())  # each receipt in another envelope's place
    no.node.courier.http = httpx.Client(transport=_Counting(no.node.courier.http, answer=swapped))
    _open_cases(no, 2)

    assert no.deliver() == 0

    rows = no.node.store.exchange._select("", ())
    assert {r["status"] for r in rows} == {"pending"}
    assert all("receipt not accepted" in r["last_error"] for r in rows)


def test_a_rate_limited_envelope_in_a_batch_is_retried_after_its_retry_after(nodes):
    no, jp = nodes

    def over_the_limit(results):
        results[1] = {"status": 429, "envelope_sha256": results[1]["envelope_sha256"],
                      "problem": {"type": "urn:cmaa:problem:rate-limited", "title": "Too many requests",
                                  "status": 429, "detail": "over", "retry_after": 120}}

    limited = _altered(jp, over_the_limit)
    no.node.courier.http = httpx.Client(transport=_Counting(no.node.courier.http, answer=limited))
    _open_cases(no, 2)

    assert no.deliver() == 1

    pending = [r for r in no.node.store.exchange._select("", ()) if r["status"] == "pending"]
    assert len(pending) == 1 and "429" in pending[0]["last_error"]
    assert pending[0]["next_attempt_at"] >= now_ms() + 110_000


def test_an_opening_for_a_case_that_exists_is_refused_in_a_batch_and_the_others_are_stored(nodes):
    no, jp = nodes
    first, second = _open_cases(no, 2)
    [row] = [r for r in no.node.store.exchange.pending() if r["case_id"] == first]
    payload, _ = no.node.exchange.open_outbox_payload(row)
    original = no.node.exchange.seal(payload).decode()
    again = no.node.exchange.seal({**payload, "id": str(uuid4())}).decode()  # another envelope opening it
    assert jp.api.post("/exchange/inbox", content=original,
                       headers={"Content-Type": "application/jose+json"}).status_code == 200

    results = jp.api.post(BATCH, json={"envelopes": [again, _sealed(no, second)[0]]}).json()["results"]

    assert [r["status"] for r in results][1] == 200
    assert results[0]["problem"]["code"] == "case-exists" and results[0]["problem"]["step"] == 14
    assert _jp_history(jp, first) == ["RequestReceived"] and _jp_history(jp, second) == ["RequestReceived"]


def test_an_opening_alone_for_a_case_that_exists_is_refused_and_the_case_is_unchanged(nodes, monkeypatch):
    """One envelope per request: the case's existence is not looked up before the commit (one statement
    fewer per opening); an existing case makes the commit conflict, and the retry, looking it up, refuses it."""
    no, jp = nodes
    [first] = _open_cases(no, 1)
    [row] = [r for r in no.node.store.exchange.pending() if r["case_id"] == first]
    payload, _ = no.node.exchange.open_outbox_payload(row)
    original = no.node.exchange.seal(payload).decode()
    again = no.node.exchange.seal({**payload, "id": str(uuid4())}).decode()  # another envelope opening it
    looked_up = []
    exists = jp.node.store.exists
    monkeypatch.setattr(jp.node.store, "exists", lambda case_id: looked_up.append(case_id) or exists(case_id))
    headers = {"Content-Type": "application/jose+json"}
    assert jp.api.post("/exchange/inbox", content=original, headers=headers).status_code == 200
    assert looked_up == []  # a new case: stored without a look-up

    refused = jp.api.post("/exchange/inbox", content=again, headers=headers)

    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "case-exists" and refused.json()["step"] == 14
    assert len(looked_up) == 1
    assert _jp_history(jp, first) == ["RequestReceived"]


def test_the_personal_data_of_a_batch_is_sealed_in_one_vault_transaction(nodes, monkeypatch):
    no, jp = nodes
    _open_cases(no, 4)
    envelopes = _sealed(no)
    vault = jp.node.vault
    opened = []
    original = type(vault)._open

    def counting(self, write):
        if self is vault:
            opened.append(write)
        return original(self, write)

    monkeypatch.setattr(type(vault), "_open", counting)
    results = jp.api.post(BATCH, json={"envelopes": envelopes}).json()["results"]

    assert [r["status"] for r in results] == [200] * 4
    assert opened == [True]  # the four requests' targets and keys: one transaction


def test_one_envelope_per_request_when_the_operator_says_so(nodes, tmp_path):
    no, jp = nodes
    assert no.node.settings.courier_envelopes_per_request == 16  # the default
    counting = _Counting(no.node.courier.http)
    no.node.courier.http = httpx.Client(transport=counting)
    no.node.courier.per_request = 1  # CMAA_COURIER_ENVELOPES_PER_REQUEST=1
    _open_cases(no, 3)

    assert no.deliver() == 3

    assert counting.seen == [("/exchange/inbox", 1)] * 3


def test_the_setting_reaches_the_courier_and_is_bounded(tmp_path, clock):
    from pydantic import ValidationError

    from service.settings import Settings
    from tests.factories import make_node

    node = make_node(f"sqlite:///{tmp_path / 'n.db'}", tmp_path, clock, courier_envelopes_per_request=4)
    assert node.courier.per_request == 4
    node.close()
    for wrong in (0, 65):
        with pytest.raises(ValidationError, match="courier_envelopes_per_request"):
            Settings(courier_envelopes_per_request=wrong)
