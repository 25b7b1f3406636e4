"""Forged, tampered, replayed and misaddressed envelopes: each rejected, nothing stored."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import timedelta

import pytest
from joserfc.jwk import OKPKey

from fastapi.testclient import TestClient

from adapters import jose
from service.exchange.outbox import RECEIPT_TYP, REJECTION_TYP
from service.http.app import create_app
from tests.factories import jp_no_request


def payload(no, **overrides):
    body = jp_no_request()
    now = no.node.clock.now()
    data = {
        "v": 1, "id": str(uuid.uuid4()), "created_at": now.isoformat(),
        "from": {"administration": "NO", "official": "no-hansen"},
        "to": {"administration": "JP", "officials": ["jp-tanaka"]},
        "agreement": "jp-no-2016",
        "case": {"exchange_id": str(uuid.uuid4()), "opened_by": "NO", "reference": "NO-2026-TEST"},
        "kind": "request",
        "body": {"kind": body["kind"], "language": "en", "channel": "written", "content": body["content"]},
    }
    data.update(overrides)
    return data


def jp_enc_keys(jp):
    directory = jp.node.directory.directory()
    kid = directory.current_key("jp-tanaka", "enc", jp.node.clock.now())
    return {kid: directory.keys[kid]["jwk"]}


def no_sig_key(no):
    directory = no.node.directory.directory()
    return no.node.exchange.keystore.private(directory.current_key("no-hansen", "sig", no.node.clock.now()))


def seal(no, jp, data, *, key=None, sent_at=None, recipients=None, typ=jose.ENVELOPE_JWS_TYP) -> bytes:
    signed = jose.sign({**data, "sent_at": (sent_at or no.node.clock.now()).isoformat()}, key or no_sig_key(no), typ)
    return jose.canonical(jose.encrypt(signed, recipients or jp_enc_keys(jp)))


def deliver(jp, raw: bytes):
    return jp.api.post("/exchange/inbox", content=raw, headers={"Content-Type": "application/jose+json"})


def state(jp) -> int:
    return jp.node.store.recorder.max_notification_id() or 0


def rejected(jp, raw: bytes, step: int, code: str | None = None):
    before = state(jp)
    response = deliver(jp, raw)
    assert response.status_code in (400, 403, 409, 422), response.text
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["step"] == step, problem
    if code:
        assert problem["code"] == code, problem
    # The rejection is signed by the receiving node, over the envelope's digest.
    node_key = OKPKey.import_key(jp.node.directory.directory().keys and
                                 jose.unverified_header_and_payload(jp.node.exchange.export_directory())[1]["node_key"])
    _, claims = jose.verify(problem["signed_rejection"], lambda kid: node_key, REJECTION_TYP)
    assert claims["envelope_sha256"] == jose.sha256_hex(raw) and claims["step"] == step
    assert state(jp) == before, "a rejected envelope changed the store"
    return problem


def test_a_valid_envelope_is_accepted_with_a_receipt_over_its_digest(nodes):
    no, jp = nodes
    raw = seal(no, jp, payload(no))
    response = deliver(jp, raw)
    assert response.status_code == 200, response.text
    node_key = OKPKey.import_key(jose.unverified_header_and_payload(jp.node.exchange.export_directory())[1]["node_key"])
    _, receipt = jose.verify(response.json()["receipt"], lambda kid: node_key, RECEIPT_TYP)
    assert receipt["envelope_sha256"] == jose.sha256_hex(raw)


def test_forged_signature(nodes):
    no, jp = nodes
    impostor = OKPKey.generate_key("Ed25519", parameters={"kid": no_sig_key(no).kid})
    rejected(jp, seal(no, jp, payload(no), key=impostor), 6, "bad-signature")


def _tamper(raw: bytes, field: str) -> bytes:
    data = json.loads(raw)
    value = data[field]
    flipped = ("A" if value[5] != "A" else "B")
    data[field] = value[:5] + flipped + value[6:]
    return json.dumps(data).encode()


@pytest.mark.parametrize("field", ["ciphertext", "tag", "iv"])
def test_tampered_ciphertext_tag_or_iv(nodes, field):
    no, jp = nodes
    rejected(jp, _tamper(seal(no, jp, payload(no)), field), 3, "decryption-failed")


def test_tampered_protected_header(nodes):
    no, jp = nodes
    data = json.loads(seal(no, jp, payload(no)))
    header = json.loads(base64.urlsafe_b64decode(data["protected"] + "=="))
    header["typ"] = "something-else"
    data["protected"] = base64.urlsafe_b64encode(json.dumps(header).encode()).decode().rstrip("=")
    rejected(jp, json.dumps(data).encode(), 3, "decryption-failed")


def test_envelope_encrypted_for_another_node(nodes):
    no, jp = nodes
    stranger = OKPKey.generate_key("X25519", parameters={"kid": "SE.se-olsson.enc.1"})
    rejected(jp, seal(no, jp, payload(no), recipients={stranger.kid: stranger.as_dict(private=False)}), 2,
             "not-addressed-here")


def test_envelope_signed_for_another_official(nodes):
    no, jp = nodes
    data = payload(no, to={"administration": "JP", "officials": ["jp-suzuki"]})
    rejected(jp, seal(no, jp, data), 10, "misaddressed")


def test_valid_envelope_re_encrypted_by_a_third_party(nodes):
    """Sweden received a genuine envelope from Norway and re-encrypts it to Japan."""
    no, jp = nodes
    data = payload(no, to={"administration": "SE", "officials": ["se-olsson"]})
    rejected(jp, seal(no, jp, data), 10, "misaddressed")


def test_identical_bytes_resent_get_the_original_receipt_and_are_applied_once(nodes, clock):
    """A sender's HTTP layer resends after a lost response: the envelope was applied, so the answer is
    its receipt, never a rejection (which the sender would store as "rejected", §3.3)."""
    no, jp = nodes
    raw = seal(no, jp, payload(no))
    first = deliver(jp, raw)
    assert first.status_code == 200
    before = state(jp)
    clock.advance(seconds=30)
    again = deliver(jp, raw)
    assert again.status_code == 200 and again.json()["receipt"] == first.json()["receipt"]
    assert state(jp) == before
    # The same bytes replayed later than the allowed skew are stale (step 11), as any old envelope.
    clock.advance(seconds=600)
    rejected(jp, raw, 11, "stale-or-future")


def test_re_sealed_retry_gets_the_same_receipt_and_is_applied_once(nodes, clock):
    no, jp = nodes
    data = payload(no)
    first = deliver(jp, seal(no, jp, data)).json()["receipt"]
    before = state(jp)
    clock.advance(seconds=30)
    again = deliver(jp, seal(no, jp, data))
    assert again.status_code == 200 and again.json()["receipt"] == first
    assert state(jp) == before


def test_an_id_reused_for_other_content(nodes):
    no, jp = nodes
    data = payload(no)
    deliver(jp, seal(no, jp, data))
    data["body"]["content"]["reason"] = "something else"
    rejected(jp, seal(no, jp, data), 12, "id-reused")


@pytest.mark.parametrize("skew", [timedelta(minutes=-10), timedelta(minutes=10)])
def test_stale_or_future_timestamp(nodes, skew, clock):
    no, jp = nodes
    clock.advance(hours=1)  # well inside the keys' validity either way
    rejected(jp, seal(no, jp, payload(no), sent_at=no.node.clock.now() + skew), 11, "stale-or-future")


def test_unknown_sender(nodes):
    no, jp = nodes
    unknown = OKPKey.generate_key("Ed25519", parameters={"kid": "NO.no-ghost.sig.1"})
    rejected(jp, seal(no, jp, payload(no), key=unknown), 5, "unknown-sender")


def test_sender_named_in_payload_is_not_the_key_owner(nodes, clock):
    no, jp = nodes
    no.node.designate_official(by="t", official_id="no-berg", name="Berg", roles=["official"])
    clock.advance(seconds=1)
    jp.node.exchange.import_directory(no.node.exchange.export_directory(), no.node.exchange.node_fingerprint(), "t")
    data = payload(no, **{"from": {"administration": "NO", "official": "no-berg"}})
    rejected(jp, seal(no, jp, data), 8, "sender-mismatch")


def test_key_outside_its_validity(nodes, clock):
    no, jp = nodes
    old_key = no_sig_key(no)
    clock.advance(seconds=1)
    no.node.exchange.rotate_official_keys("no-hansen", "t")
    clock.advance(seconds=1)
    jp.node.exchange.import_directory(no.node.exchange.export_directory(), no.node.exchange.node_fingerprint(), "t")
    rejected(jp, seal(no, jp, payload(no), key=old_key), 9, "key-not-valid")
    # The new key works.
    assert deliver(jp, seal(no, jp, payload(no))).status_code == 200


def test_revoked_official(nodes, clock):
    no, jp = nodes
    raw_before_revocation = payload(no)
    no.node.directory.revoke_official(by="t", official_id="no-hansen", reason="left")
    clock.advance(seconds=1)
    jp.node.exchange.import_directory(no.node.exchange.export_directory(), no.node.exchange.node_fingerprint(), "t")
    rejected(jp, seal(no, jp, raw_before_revocation), 5, "unknown-sender")


def test_agreement_not_in_force(nodes):
    no, jp = nodes
    jp.node.directory.record_agreement_period(by="t", agreement="jp-no-2016", in_force_from=None,
                                              termination_notified_on=no.node.clock.now().date().replace(year=2026,
                                                                                                       month=1))
    problem = rejected(jp, seal(no, jp, payload(no)), 13, "agreement-not-in-force")
    assert problem["article"] == "JP-NO Art. 19(1)"


def test_kind_of_assistance_not_allowed_by_the_agreement(nodes):
    no, jp = nodes
    data = payload(no)
    data["body"]["kind"] = "recovery_of_claim"
    problem = rejected(jp, seal(no, jp, data), 13, "treaty-rule-violation")
    assert problem["article"] == "JP-NO Art. 2(1)"


def test_incomplete_request_is_refused_citing_art_11_4(nodes):
    no, jp = nodes
    data = payload(no)
    data["body"]["content"]["targets"] = []
    assert rejected(jp, seal(no, jp, data), 13, "request-incomplete")["article"] == "JP-NO Art. 11(4)(d)"


def test_unknown_message_kind(nodes):
    no, jp = nodes
    rejected(jp, seal(no, jp, payload(no, kind="arrest_warrant")), 14, "unknown-kind")


def test_a_step_sent_by_the_wrong_side(nodes):
    no, jp = nodes
    opened = payload(no)
    assert deliver(jp, seal(no, jp, opened)).status_code == 200
    # Norway (the requester) cannot "reply" on its own request.
    reply = payload(no, kind="reply", case=opened["case"],
                    body={"items": [{"title": "t", "content": "c"}]})
    rejected(jp, seal(no, jp, reply), 14, "wrong-direction")


def test_a_step_on_a_case_that_does_not_exist_is_refused_at_step_14(nodes):
    """docs/envelope-format.md §3.1: step 14 checks the case exists; its number is the same in the
    rejection and in the metrics label."""
    no, jp = nodes
    rejected(jp, seal(no, jp, payload(no, kind="written_confirmation", body={"reference": "x"})), 14, "not-found")
    metrics = jp.api.get("/metrics", headers=jp.operator).text
    assert 'cmaa_inbound_rejections_total{code="not-found",step="14"} 1.0' in metrics


@pytest.mark.parametrize("raw,code", [
    (b"not json", "malformed"),
    (b"{}", "malformed-jwe"),
    (b'{"recipients": "x"}', "malformed-jwe"),
    (b'{"recipients": [{"header": {"alg": "ECDH-ES+A256KW", "kid": "x", "jwk": {}}}]}', "embedded-key"),
    # no epk: a JWE outside the profile, not a key where none belongs (docs/envelope-format.md §3.1)
    (b'{"recipients": [{"header": {"alg": "ECDH-ES+A256KW", "kid": "x"}}]}', "malformed-jwe"),
])
def test_malformed_json_or_jose(nodes, raw, code):
    no, jp = nodes
    rejected(jp, raw, 1, code)


def test_an_inner_jws_with_another_algorithm(nodes):
    no, jp = nodes
    header = base64.urlsafe_b64encode(b'{"alg":"none","kid":"x","typ":"cmaa-envelope+jws"}').decode().rstrip("=")
    body = base64.urlsafe_b64encode(b'{}').decode().rstrip("=")
    raw = jose.canonical(jose.encrypt(f"{header}.{body}.", jp_enc_keys(jp)))
    rejected(jp, raw, 4, "algorithm-not-allowed")


def test_a_key_carried_in_the_jws_header_is_refused(nodes):
    no, jp = nodes
    key = no_sig_key(no)
    from joserfc import jws

    token = jws.serialize_compact({"alg": "Ed25519", "kid": key.kid, "typ": jose.ENVELOPE_JWS_TYP,
                                   "jwk": key.as_dict(private=False)},
                                  jose.canonical({**payload(no), "sent_at": no.node.clock.now().isoformat()}), key,
                                  algorithms=["Ed25519"])
    rejected(jp, jose.canonical(jose.encrypt(token, jp_enc_keys(jp))), 4, "embedded-key")


def test_an_oversized_envelope_is_refused_before_it_is_read(nodes):
    no, jp = nodes
    response = deliver(jp, b"{" + b" " * 2_000_000 + b"}")
    assert response.status_code == 413


def test_the_sender_stores_a_signed_rejection_on_its_case(nodes):
    no, jp = nodes
    jp.node.directory.record_agreement_period(by="t", agreement="jp-no-2016", in_force_from=None,
                                              termination_notified_on=no.node.clock.now().date().replace(month=1))
    case_id = no.api.post("/cases", json=jp_no_request(), headers=no.official).json()["id"]
    assert no.deliver() == 1
    last = no.api.get(f"/cases/{case_id}/history", headers=no.official).json()["data"][-1]
    assert last["event"] == "EnvelopeRejected"
    assert last["data"]["step"] == 13 and last["data"]["code"] == "agreement-not-in-force"
    assert last["data"]["signed_rejection"]
    assert no.node.store.exchange.pending() == []


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "streamed"])
def test_an_oversized_envelope_gets_a_signed_rejection_and_the_sender_stops(nodes, chunked):
    """docs/envelope-format.md §3.3: every 4xx from the inbox carries a signed rejection; for a body
    over the limit it is over the SHA-256 of the bytes read (none, when Content-Length declared it)."""
    no, jp = nodes
    raw = b"{" + b" " * 1_100_000 + b"}"
    content = (raw[i:i + 65_536] for i in range(0, len(raw), 65_536)) if chunked else raw
    response = jp.api.post("/exchange/inbox", content=content, headers={"Content-Type": "application/jose+json"})
    assert response.status_code == 413
    problem = response.json()
    assert (problem["step"], problem["code"]) == (1, "too-large")
    claims = no.node.exchange.verify_rejection("JP", problem["signed_rejection"])
    assert claims is not None and (claims["step"], claims["code"], claims["receiver"]) == (1, "too-large", "JP")
    if chunked:  # the bytes read until the total passed the limit: a prefix of the body longer than it
        limit, running, prefixes = 1_048_576, hashlib.sha256(raw[:1_048_576]), set()
        for byte in raw[limit:]:
            running.update(bytes([byte]))
            prefixes.add(running.hexdigest())
        assert claims["envelope_sha256"] in prefixes
    else:
        assert claims["envelope_sha256"] == hashlib.sha256(b"").hexdigest()


def test_a_sender_stores_the_signed_refusal_of_an_envelope_too_large_and_does_not_retry(nodes):
    no, jp = nodes
    small = jp.node.settings.model_copy(update={"max_body_bytes": 2048})  # a request envelope is larger
    no.node.courier.http = TestClient(create_app(small, node=jp.node, run_courier=False))
    case_id = no.api.post("/cases", json=jp_no_request(), headers=no.official).json()["id"]
    assert no.deliver() == 1
    last = no.api.get(f"/cases/{case_id}/history", headers=no.official).json()["data"][-1]
    assert last["event"] == "EnvelopeRejected"
    assert (last["data"]["step"], last["data"]["code"]) == (1, "too-large")
    assert no.node.store.exchange.pending() == []
