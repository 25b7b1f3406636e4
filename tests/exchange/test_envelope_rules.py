"""The rules of docs/envelope-format.md a partner implementation relies on, each at its boundary:
key validity `[valid_from, valid_until)`, the clock skew bounds, which encryption key a sender
uses, retired encryption keys opening inbound envelopes, and what a sender does with a receipt
that is not valid."""

from __future__ import annotations

from datetime import timedelta

import httpx

from adapters import jose
from tests.exchange.test_hostile_input import deliver, jp_enc_keys, no_sig_key, payload, rejected, seal
from tests.factories import jp_no_request


def recipient_kids(sealed: bytes) -> list[str]:
    import json

    return [r["header"]["kid"] for r in json.loads(sealed)["recipients"]]


def rotate(side, official: str, other, clock) -> None:
    """``side`` rotates ``official``'s keys now; a second later ``other`` imports the new directory."""
    side.node.exchange.rotate_official_keys(official, "t")
    clock.advance(seconds=1)
    other.node.exchange.import_directory(side.node.exchange.export_directory(), side.node.exchange.node_fingerprint(),
                                         "t")


def test_a_signing_key_is_valid_from_its_valid_from_inclusive_until_its_valid_until_exclusive(nodes, clock):
    no, jp = nodes
    clock.advance(minutes=1)
    old_key, rotated_at = no_sig_key(no), clock.now()
    rotate(no, "no-hansen", jp, clock)
    new_key = no_sig_key(no)
    assert jp.node.directory.directory().partner_keys[old_key.kid]["valid_until"] == rotated_at.isoformat()
    at_rotation = payload(no, created_at=rotated_at.isoformat())
    rejected(jp, seal(no, jp, at_rotation, key=old_key, sent_at=rotated_at), 9, "key-not-valid")
    assert deliver(jp, seal(no, jp, at_rotation, key=new_key, sent_at=rotated_at)).status_code == 200
    just_before = rotated_at - timedelta(microseconds=1)
    before = payload(no, created_at=just_before.isoformat())
    assert deliver(jp, seal(no, jp, before, key=old_key, sent_at=just_before)).status_code == 200


def test_sent_at_within_the_skew_is_accepted_with_its_bounds_included(nodes, clock):
    no, jp = nodes
    clock.advance(hours=1)  # well inside the keys' validity
    skew = jp.node.exchange.max_skew
    for offset in (-skew, skew):
        assert deliver(jp, seal(no, jp, payload(no), sent_at=clock.now() + offset)).status_code == 200
    for offset in (-skew - timedelta(seconds=1), skew + timedelta(seconds=1)):
        rejected(jp, seal(no, jp, payload(no), sent_at=clock.now() + offset), 11, "stale-or-future")


def test_of_several_valid_encryption_keys_a_sender_uses_the_one_with_the_latest_valid_from(nodes, clock):
    no, jp = nodes
    first = jp_enc_keys(jp)
    clock.advance(minutes=1)
    jp.node.exchange.issue_official_keys("jp-tanaka", "t")  # a second pair; the first stays valid
    clock.advance(seconds=1)
    no.node.exchange.import_directory(jp.node.exchange.export_directory(), jp.node.exchange.node_fingerprint(), "t")
    directory = jp.node.directory.directory()
    valid = [kid for kid, k in directory.keys.items() if k["owner"] == "jp-tanaka" and k["use"] == "enc"
             and k["valid_from"] <= clock.now() < k["valid_until"]]
    assert len(valid) == 2 and set(first) < set(valid)
    [newest] = set(valid) - set(first)
    assert recipient_kids(no.node.exchange.seal(payload(no))) == [newest]


def test_a_retired_encryption_key_still_opens_an_inbound_envelope(nodes, clock):
    no, jp = nodes
    clock.advance(minutes=1)
    retired = jp_enc_keys(jp)
    rotate(jp, "jp-tanaka", no, clock)
    assert set(jp_enc_keys(jp)) != set(retired)
    assert recipient_kids(no.node.exchange.seal(payload(no))) == list(jp_enc_keys(jp))
    # An envelope sealed just before the rotation (or retried from an outbox after it) still opens.
    assert deliver(jp, seal(no, jp, payload(no), recipients=retired)).status_code == 200


def test_an_invalid_receipt_counts_as_no_answer_and_the_envelope_is_retried(nodes, monkeypatch,
                                                                          signed_documents_follow_published_schemas):
    no, jp = nodes
    case_id = no.api.post("/cases", json=jp_no_request(), headers=no.official).json()["id"]
    http = no.node.courier.http
    real_post = http.post
    stranger = jose.sign({"type": "cmaa-receipt"}, no_sig_key(no), "cmaa-receipt+jws")  # not JP's node key
    for body in ({"receipt": stranger}, {"accepted": True}):
        def post(url, body=body, **kwargs):
            real_post(url, **kwargs)  # JP applies the envelope; its answer is lost and replaced
            return httpx.Response(200, json=body, request=httpx.Request("POST", url))
        monkeypatch.setattr(http, "post", post)
        assert no.deliver() == 0
        [row] = no.api.get("/exchange/outbox", headers=no.operator).json()["data"]
        assert row["last_error"].startswith("receipt not accepted"), row
        history = no.api.get(f"/cases/{case_id}/history", headers=no.official).json()["data"]
        assert "EnvelopeDelivered" not in [h["event"] for h in history]
        no.node.store.exchange._run("UPDATE {p}cmaa_outbox SET next_attempt_at = 0 WHERE envelope_id = ?",
                                    (row["envelope_id"],))
    monkeypatch.undo()
    recorder = signed_documents_follow_published_schemas  # the answer without a receipt breaks its schema on purpose
    recorder.documents = [(name, d) for name, d in recorder.documents if d != {"accepted": True}]
    assert no.deliver() == 1  # the retry gets JP's stored receipt
    history = no.api.get(f"/cases/{case_id}/history", headers=no.official).json()["data"]
    assert [h["event"] for h in history].count("EnvelopeDelivered") == 1
    assert no.node.store.exchange.pending() == []
