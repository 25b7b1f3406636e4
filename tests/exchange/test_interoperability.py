"""A partner built only with jwcrypto, from docs/envelope-format.md, talks to our node.

Our node signs and encrypts with joserfc; the partner here uses only jwcrypto,
and nothing from our code but plain HTTP and JSON. jwcrypto writes its protected
headers with spaces, which is how this test found authlib/joserfc#101 (AAD
computed from a re-serialized header): our node now decrypts with jwcrypto.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime

import httpx
import pytest
from fastapi.testclient import TestClient
from jwcrypto import jwe, jwk, jws

from service.http.app import create_app
from service.node import initialise
from tests.exchange_helpers import bearer
from tests.factories import jp_no_request, make_node

ENV_TYP, DIR_TYP, RECEIPT_TYP = "cmaa-envelope+jws", "cmaa-directory+jws", "cmaa-receipt+jws"


class ForeignPartner:
    """Japan's node as another vendor would write it."""

    def __init__(self, now: datetime):
        self.now = now
        self.node_key = jwk.JWK.generate(kty="OKP", crv="Ed25519", kid="jp-root")
        self.sig = jwk.JWK.generate(kty="OKP", crv="Ed25519", kid="JP.jp-sato.sig.1")
        self.enc = jwk.JWK.generate(kty="OKP", crv="X25519", kid="JP.jp-sato.enc.1")
        self.received: list[dict] = []
        self.requests = 0
        self.partner_keys: dict[str, jwk.JWK] = {}

    def sign(self, payload: dict, key: jwk.JWK, typ: str) -> str:
        token = jws.JWS(json.dumps(payload).encode())
        token.add_signature(key, alg="Ed25519", protected=json.dumps({"alg": "Ed25519", "kid": key.key_id,
                                                                      "typ": typ}))
        return token.serialize(compact=True)

    def directory(self) -> str:
        key_entry = lambda k, use: {"kid": k.key_id, "use": use, "jwk": json.loads(k.export_public()),  # noqa: E731
                                    "valid_from": "2026-01-01T00:00:00+00:00",
                                    "valid_until": "2027-12-31T00:00:00+00:00"}
        return self.sign({"type": "cmaa-directory", "v": 1, "administration": "JP", "name": "Japan Customs",
                          "endpoint": "https://jp.partner.test", "issued_at": self.now.isoformat(),
                          "node_key": json.loads(self.node_key.export_public()),
                          "officials": {"jp-sato": {"name": "Sato", "keys": [key_entry(self.sig, "sig"),
                                                                          key_entry(self.enc, "enc")]}}},
                         self.node_key, DIR_TYP)

    def import_directory(self, token: str, fingerprint: str) -> dict:
        parts = token.split(".")
        unverified = json.loads(jwk.base64url_decode(parts[1]))
        node_key = jwk.JWK(**unverified["node_key"])
        assert node_key.thumbprint() == fingerprint  # RFC 7638, SHA-256
        verifier = jws.JWS()
        verifier.deserialize(token)
        verifier.verify(node_key, alg="Ed25519")
        claims = json.loads(verifier.payload)
        self.partner_node_key = node_key
        for official in claims["officials"].values():
            for key in official["keys"]:
                self.partner_keys[key["kid"]] = jwk.JWK(**key["jwk"])
        return claims

    # -- the inbox, as the partner implements it -------------------------------------
    def inbox(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != "/exchange/inbox":  # one envelope per request: no batches here
            return httpx.Response(404, json={"title": "Not Found", "status": 404})
        self.requests += 1
        body = request.content
        envelope = jwe.JWE()
        envelope.deserialize(body.decode(), key=self.enc)
        inner = jws.JWS()
        inner.deserialize(envelope.payload.decode())
        header = inner.jose_header
        assert header["alg"] == "Ed25519" and header["typ"] == ENV_TYP
        inner.verify(self.partner_keys[header["kid"]], alg="Ed25519")
        claims = json.loads(inner.payload)
        assert claims["to"] == {"administration": "JP", "officials": ["jp-sato"]}
        self.received.append(claims)
        receipt = self.sign({"type": "cmaa-receipt", "envelope_id": claims["id"],
                             "envelope_sha256": hashlib.sha256(body).hexdigest(), "sender": "NO", "receiver": "JP",
                             "received_at": self.now.isoformat(), "status": "accepted"}, self.node_key, RECEIPT_TYP)
        return httpx.Response(200, json={"receipt": receipt})

    # -- an envelope to our node ---------------------------------------------------------
    def envelope(self, our_enc_kid: str, kind: str, case: dict, body: dict, flattened: bool = False) -> bytes:
        payload = {"v": 1, "id": str(uuid.uuid4()), "created_at": self.now.isoformat(),
                   "sent_at": self.now.isoformat(), "from": {"administration": "JP", "official": "jp-sato"},
                   "to": {"administration": "NO", "officials": ["no-hansen"]}, "agreement": "jp-no-2016",
                   "case": case, "kind": kind, "body": body}
        signed = self.sign(payload, self.sig, ENV_TYP)
        encrypted = jwe.JWE(signed.encode(), protected=json.dumps({"enc": "A256GCM", "typ": "cmaa-envelope+jwe",
                                                                   "cty": "JWS"}))
        encrypted.add_recipient(self.partner_keys[our_enc_kid],
                                header=json.dumps({"alg": "ECDH-ES+A256KW", "kid": our_enc_kid}))
        data = json.loads(encrypted.serialize())
        if not flattened and "recipients" not in data:
            data = {k: v for k, v in data.items() if k not in ("header", "encrypted_key")} | {
                "recipients": [{"header": data["header"], "encrypted_key": data["encrypted_key"]}]}
        return json.dumps(data).encode()

    def verify_receipt(self, receipt: str) -> dict:
        verifier = jws.JWS()
        verifier.deserialize(receipt)
        verifier.verify(self.partner_node_key, alg="Ed25519")
        assert verifier.jose_header["typ"] == RECEIPT_TYP
        return json.loads(verifier.payload)


@pytest.fixture
def norway_and_foreign_japan(tmp_path, clock):
    node = make_node(f"sqlite:///{tmp_path / 'no.db'}", tmp_path / "no", clock, public_url="https://no.node.test")
    initialise(node)
    node.designate_official(by="t", official_id="no-hansen", name="Kari Hansen", roles=["official"])
    official = bearer(node.directory.issue_credential(by="t", official_id="no-hansen"))
    partner = ForeignPartner(clock.now())
    node.directory.register_partner(by="t", administration="JP", name="Japan Customs", agreements=["jp-no-2016"])
    node.exchange.import_directory(partner.directory(), partner.node_key.thumbprint(), "t")
    node.courier.http = httpx.Client(transport=httpx.MockTransport(partner.inbox))
    api = TestClient(create_app(node=node, run_courier=False))
    our_directory = partner.import_directory(api.get("/exchange/directory").text, node.exchange.node_fingerprint())
    yield node, api, official, partner, our_directory
    api.close()
    node.close()


def test_our_envelope_opens_and_verifies_with_jwcrypto_and_its_receipt_is_accepted(norway_and_foreign_japan):
    node, api, official, partner, _ = norway_and_foreign_japan
    body = jp_no_request(addressed_to=["jp-sato"])
    case_id = api.post("/cases", json=body, headers=official).json()["id"]

    assert node.courier.deliver_due() == 1

    [claims] = partner.received
    assert claims["kind"] == "request" and claims["case"]["exchange_id"] == case_id
    assert claims["body"]["content"]["action_requested"] == body["content"]["action_requested"]
    history = api.get(f"/cases/{case_id}/history", headers=official).json()["data"]
    assert history[-1]["event"] == "EnvelopeDelivered"


def test_a_partner_without_batches_gets_one_envelope_per_request(norway_and_foreign_japan):
    node, api, official, partner, _ = norway_and_foreign_japan
    cases = [api.post("/cases", json=jp_no_request(addressed_to=["jp-sato"]), headers=official).json()["id"]
             for _ in range(3)]

    assert node.courier.deliver_due() == 3

    assert partner.requests == 3 and sorted(c["case"]["exchange_id"] for c in partner.received) == sorted(cases)
    for case_id in cases:
        history = api.get(f"/cases/{case_id}/history", headers=official).json()["data"]
        assert [e["event"] for e in history].count("EnvelopeDelivered") == 1


@pytest.mark.parametrize("flattened", [False, True])
def test_a_jwcrypto_envelope_is_accepted_and_our_receipt_verifies_with_jwcrypto(norway_and_foreign_japan,
                                                                                flattened):
    node, api, official, partner, our_directory = norway_and_foreign_japan
    case_id = api.post("/cases", json=jp_no_request(addressed_to=["jp-sato"]), headers=official).json()["id"]
    node.courier.deliver_due()
    our_enc = next(k["kid"] for k in our_directory["officials"]["no-hansen"]["keys"] if k["use"] == "enc")
    case = {"exchange_id": case_id, "opened_by": "NO", "reference": "NO-REF"}
    raw = partner.envelope(our_enc, "reply", case, {"items": [
        {"title": "Export declaration", "content": "JPY 1,200,000",
         "restrictions": {"law_enforcement_onward": False}}], "final": True}, flattened=flattened)

    response = api.post("/exchange/inbox", content=raw, headers={"Content-Type": "application/jose+json"})

    assert response.status_code == 200, response.text
    receipt = partner.verify_receipt(response.json()["receipt"])
    assert receipt["envelope_sha256"] == hashlib.sha256(raw).hexdigest()
    mine = api.get(f"/cases/{case_id}", headers=official).json()
    assert mine["status"] == "replied"
    assert mine["items"][0]["restrictions"]["law_enforcement_onward"] is False


def test_the_node_key_fingerprint_is_the_rfc_7638_thumbprint(norway_and_foreign_japan):
    node, api, _, _, our_directory = norway_and_foreign_japan
    assert jwk.JWK(**our_directory["node_key"]).thumbprint() == node.exchange.node_fingerprint()

