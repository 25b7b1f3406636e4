"""The conformance kit (conformance/): vectors made by conformance/generate.py from published test
keys, checked against our implementation — a real node's inbox accepts the request envelope — and
against independent ones: jwcrypto for JOSE, and an RFC 9162 Merkle tree and C2SP signed-note
verifier written here from the specifications (nothing imported from adapters/)."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from jwcrypto import jwe as jc_jwe
from jwcrypto import jwk as jc_jwk
from jwcrypto import jws as jc_jws

from tests.exchange.test_c2sp_cosignatures import c2sp_verify_cosignature
from tests.published_schemas import violations

KIT = Path(__file__).resolve().parents[2] / "conformance"
VECTORS = KIT / "vectors"
ENVELOPES = sorted(p.name for p in VECTORS.glob("envelope-*.json"))


def vector(name: str):
    text = (VECTORS / name).read_text(encoding="utf-8")
    return json.loads(text) if name.endswith(".json") else text


def key(name: str) -> dict:
    return json.loads((KIT / "keys" / f"{name}.jwk.json").read_text())


def raw_public(jwk: dict) -> bytes:
    return base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))


# -- from the specifications: RFC 9162 §2.1, C2SP signed-note --------------------------------------
def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH, by its recursive definition (leaves are leaf *hashes* here)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n])."""
    if len(leaves) <= 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return path(m, leaves[:k]) + [mth(leaves[k:])] if m < k else path(m - k, leaves[k:]) + [mth(leaves[:k])]


def proof(m: int, leaves: list[bytes], complete: bool = True) -> list[bytes]:
    """RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b)."""
    n = len(leaves)
    if m == n:
        return [] if complete else [mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return proof(m, leaves[:k], complete) + [mth(leaves[k:])]
    return proof(m - k, leaves[k:], False) + [mth(leaves[:k])]


def leaf(event: dict) -> bytes:
    """docs/audit-format.md §1."""
    state = base64.b64decode(event["state"])
    data = "\n".join(["cmaa-leaf-v1", event["originator_id"], str(event["originator_version"]), event["topic"],
                      hashlib.sha256(state).hexdigest()]).encode()
    return hashlib.sha256(b"\x00" + data).digest()


def verify_note(note: str, name: str, public_raw: bytes) -> tuple[int, bytes]:
    """C2SP signed-note, Ed25519 (type 0x01) + tlog-checkpoint body: (size, root)."""
    text, _, signatures = note.partition("\n\n")
    text += "\n"
    wanted = hashlib.sha256(name.encode() + b"\n\x01" + public_raw).digest()[:4]
    for line in signatures.split("\n"):
        if line.startswith(f"\u2014 {name} "):
            blob = base64.b64decode(line.rsplit(" ", 1)[1])
            if blob[:4] == wanted:
                Ed25519PublicKey.from_public_bytes(public_raw).verify(blob[4:], text.encode())
                origin, size, root = text.split("\n")[:3]
                assert origin == name
                return int(size), base64.b64decode(root)
    raise AssertionError(f"no signature by {name}")


# -- the kit is what the generator makes -----------------------------------------------------------
def test_the_deterministic_vectors_are_what_the_generator_makes_today():
    from conformance.generate import main

    assert main(["--check"]) == 0, "run `python conformance/generate.py` and commit the vectors"


@pytest.mark.parametrize("name", ENVELOPES)
def test_each_envelope_opens_and_verifies_with_jwcrypto_and_with_our_code(name):
    from joserfc.jwk import OKPKey

    from adapters import jose
    from service.exchange.schemas import BODY_SCHEMAS, EnvelopePayload

    v = vector(name)
    content = v["content"]
    recipient = key("jp-tanaka-enc" if content["to"]["administration"] == "JP" else "no-hansen-enc")
    signer = key("no-hansen-sig" if content["from"]["administration"] == "NO" else "jp-tanaka-sig")
    # jwcrypto, independently
    envelope = jc_jwe.JWE()
    envelope.allowed_algs = ["ECDH-ES+A256KW", "A256GCM"]
    envelope.deserialize(json.dumps(v["jwe"]), key=jc_jwk.JWK(**recipient))
    assert envelope.payload.decode() == v["jws"]
    inner = jc_jws.JWS()
    inner.deserialize(v["jws"])
    inner.verify(jc_jwk.JWK(**{k: val for k, val in signer.items() if k != "d"}), alg="Ed25519")
    assert inner.jose_header == {"alg": "Ed25519", "kid": signer["kid"], "typ": "cmaa-envelope+jws"}
    assert json.loads(inner.payload) == content
    # ours
    jws_token = jose.decrypt(jose.as_general(v["jwe"]), recipient["kid"], OKPKey.import_key(recipient))
    _, claims = jose.verify(jws_token, lambda kid: OKPKey.import_key(signer), jose.ENVELOPE_JWS_TYP)
    assert claims == content
    EnvelopePayload.model_validate(claims)
    BODY_SCHEMAS[content["kind"]].model_validate(content["body"])
    assert violations(f"envelope-{content['kind'].replace('_', '-')}.schema.json", content) == []


@pytest.mark.parametrize("name,typ,signer,schema", [
    ("directory-no.json", "cmaa-directory+jws", "no-node", "directory.schema.json"),
    ("directory-jp.json", "cmaa-directory+jws", "jp-node", "directory.schema.json"),
    ("receipt.json", "cmaa-receipt+jws", "jp-node", "receipt.schema.json"),
    ("rejection.json", "cmaa-rejection+jws", "jp-node", "rejection.schema.json")])
def test_directories_receipts_and_rejections_verify_with_jwcrypto(name, typ, signer, schema):
    v = vector(name)
    token = jc_jws.JWS()
    token.deserialize(v["jws"])
    token.verify(jc_jwk.JWK(**{k: val for k, val in key(signer).items() if k != "d"}), alg="Ed25519")
    assert token.jose_header["typ"] == typ and json.loads(token.payload) == v["payload"]
    assert violations(schema, v["payload"]) == []
    if name.startswith("directory"):  # the pinned fingerprint: RFC 7638 thumbprint of node_key
        assert jc_jwk.JWK(**v["payload"]["node_key"]).thumbprint() == jc_jwk.JWK(**key(signer)).thumbprint()


def test_the_receipt_is_over_the_exact_bytes_of_the_request_envelope():
    request, receipt = vector("envelope-request.json"), vector("receipt.json")["payload"]
    assert hashlib.sha256(request["jwe_bytes"].encode()).hexdigest() == receipt["envelope_sha256"]
    assert json.loads(request["jwe_bytes"]) == request["jwe"]


def test_the_log_vectors_check_against_a_verifier_written_from_the_specifications():
    bundle, proofs = vector("bundle.json"), vector("proofs.json")
    assert violations("audit-bundle.schema.json", bundle) == []
    no_node, jp_node = raw_public(key("no-node")), raw_public(key("jp-node"))
    leaves = [leaf(e) for e in bundle["events"]]
    assert [lf.hex() for lf in leaves] == [e["sealed_leaf_hash"] for e in bundle["events"]]
    size, root = verify_note(bundle["checkpoint"]["note"], "cmaa-exchange/NO", no_node)
    assert (size, root) == (len(leaves), mth(leaves))
    assert vector("checkpoint.txt") == bundle["checkpoint"]["note"]
    [older] = bundle["checkpoints"]
    old_size, old_root = verify_note(older["note"], "cmaa-exchange/NO", no_node)
    assert old_root == mth(leaves[:old_size])
    assert older["consistency_proof"] == [p.hex() for p in proof(old_size, leaves)]  # old → current
    inclusion, consistency = proofs["inclusion"], proofs["consistency"]
    assert inclusion["proof"] == [p.hex() for p in path(inclusion["leaf_index"], leaves[:inclusion["tree_size"]])]
    assert consistency["proof"] == [p.hex() for p in proof(consistency["old_size"], leaves[:consistency["new_size"]])]
    [cosignature] = bundle["cosignatures"]
    assert cosignature["note"] == vector("cosigned-checkpoint.txt")
    assert c2sp_verify_cosignature(cosignature["note"], "cmaa-exchange/JP", jp_node) == 1795341600  # 2026-11-22T10:00:00Z
    assert verify_note(cosignature["note"], "cmaa-exchange/NO", no_node) == (size, root)


def test_the_log_vectors_verify_with_our_offline_verifier():
    from adapters.bundle import verify_bundle

    verdict = verify_bundle(vector("bundle.json"))
    assert verdict.ok and verdict.cosigned == {"JP"}, verdict.problems


def test_a_node_with_the_kit_keys_accepts_the_request_envelope_and_its_receipt_verifies(store_url, tmp_path, clock):
    """Our own inbox, end to end: JP's node holds the kit's JP keys, imports the kit's NO directory
    against its pinned fingerprint, and accepts the request envelope's exact bytes."""
    from fastapi.testclient import TestClient
    from joserfc.jwk import OKPKey

    from adapters import jose
    from service.http.app import create_app
    from service.node import initialise
    from tests.factories import make_node

    jp = make_node(store_url, tmp_path / "jp", clock, administration="JP", administration_name="Japan Customs")
    initialise(jp)
    jp.exchange.keystore._cache["node-sig"] = OKPKey.import_key(key("jp-node"))
    jp.designate_official(by="test", official_id="jp-tanaka", name="Tanaka", roles=["official"])
    enc = key("jp-tanaka-enc")
    jp.exchange.keystore._cache[enc["kid"]] = OKPKey.import_key(enc)
    directory = jp.directory.directory_for_update()
    directory.publish_key(kid=enc["kid"], owner="jp-tanaka", use="enc",
                          public_jwk={k: v for k, v in enc.items() if k != "d"}, valid_from=clock.now(),
                          valid_until=clock.now().replace(year=2027), by="test", at=clock.now())
    jp.store.commit(directory)
    jp.directory.register_partner(by="test", administration="NO", name="Norwegian Customs", agreements=["jp-no-2016"])
    no_directory = vector("directory-no.json")
    jp.exchange.import_directory(no_directory["jws"], jc_jwk.JWK(**key("no-node")).thumbprint(), "test")
    with TestClient(create_app(node=jp, run_courier=False)) as api:
        request = vector("envelope-request.json")
        response = api.post("/exchange/inbox", content=request["jwe_bytes"].encode(),
                            headers={"Content-Type": "application/jose+json"})
    jp.close()
    assert response.status_code == 200, response.text
    _, receipt = jose.verify(response.json()["receipt"], lambda kid: OKPKey.import_key(key("jp-node")),
                             "cmaa-receipt+jws")
    assert receipt["envelope_sha256"] == request["jwe_bytes_sha256"]
    assert violations("receipt.schema.json", receipt) == []
    assert c2sp_verify_cosignature(receipt["cosigned_checkpoint"], "cmaa-exchange/JP",
                                   raw_public(key("jp-node"))) == int(clock.now().timestamp())
