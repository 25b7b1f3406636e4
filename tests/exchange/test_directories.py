"""Signed directories, pinned fingerprints, key rotation."""

from __future__ import annotations

import pytest

from domain.errors import InvalidInput, NotPermitted
from service.node import initialise
from tests.factories import jp_no_request, make_node


def test_a_directory_with_another_node_key_than_the_pinned_fingerprint_is_refused(nodes, tmp_path, clock):
    no, jp = nodes
    impostor = make_node(f"sqlite:///{tmp_path / 'x.db'}", tmp_path / "x", clock, administration="NO")
    initialise(impostor)
    forged = impostor.exchange.export_directory()
    with pytest.raises(NotPermitted, match="pinned fingerprint"):
        jp.node.exchange.import_directory(forged, no.node.exchange.node_fingerprint(), "t")
    impostor.close()


def test_a_tampered_directory_does_not_verify(nodes, clock):
    no, jp = nodes
    clock.advance(seconds=1)
    header, body, signature = no.node.exchange.export_directory().split(".")
    tampered = f"{header}.{body[:-4]}AAAA.{signature}"
    with pytest.raises((InvalidInput, NotPermitted)):
        jp.node.exchange.import_directory(tampered, no.node.exchange.node_fingerprint(), "t")


def test_an_older_directory_cannot_be_imported_again(nodes, clock):
    no, jp = nodes
    old = no.node.exchange.export_directory()
    clock.advance(seconds=1)
    jp.node.exchange.import_directory(no.node.exchange.export_directory(), no.node.exchange.node_fingerprint(), "t")
    with pytest.raises(InvalidInput, match="not newer"):
        jp.node.exchange.import_directory(old, no.node.exchange.node_fingerprint(), "t")


def test_a_directory_for_another_administration_is_refused_through_the_api(nodes):
    no, jp = nodes
    response = jp.api.put("/exchange/partners/SE/directory", headers=jp.operator, json={
        "directory": no.node.exchange.export_directory(), "fingerprint": no.node.exchange.node_fingerprint()})
    assert response.status_code == 422


def test_the_signed_directory_is_served_publicly_and_imports(nodes, clock):
    no, jp = nodes
    clock.advance(seconds=1)
    token = jp.api.get("/exchange/directory").text  # no credential needed
    document = no.node.exchange.import_directory(token, jp.node.exchange.node_fingerprint(), "t")
    assert document["administration"] == "JP" and "jp-tanaka" in document["officials"]


def test_rotation_keeps_old_envelopes_verifiable_and_signs_new_ones_with_the_new_key(nodes, clock):
    no, jp = nodes
    case_id = no.api.post("/cases", json=jp_no_request(), headers=no.official).json()["id"]
    no.deliver()
    clock.advance(seconds=1)
    old = no.node.directory.directory().current_key("no-hansen", "sig", clock.now())
    no.node.exchange.rotate_official_keys("no-hansen", "t")
    directory = no.node.directory.directory()
    new = directory.current_key("no-hansen", "sig", clock.now())
    assert new != old and directory.keys[old]["valid_until"] <= clock.now()
    clock.advance(seconds=1)
    jp.node.exchange.import_directory(no.node.exchange.export_directory(), no.node.exchange.node_fingerprint(), "t")
    # The old key is still published with its validity, for verifying history.
    assert jp.node.directory.directory().partner_keys[old]["valid_until"] < clock.now().isoformat()
    no.api.post(f"/cases/{case_id}/closure", headers=no.official, json={"reason": "done"})
    second = no.api.post("/cases", json=jp_no_request(), headers=no.official).json()["id"]
    assert no.deliver() == 1
    history = no.api.get(f"/cases/{second}/history", headers=no.official).json()["data"]
    assert history[-1]["event"] == "EnvelopeDelivered"


def test_key_changes_are_events_in_the_directory(nodes):
    no, _ = nodes
    from domain.directory import directory_id

    topics = [type(e).__name__ for e in no.node.store.events.get(directory_id("NO"))]
    assert "KeyPublished" in topics


def test_a_directory_publishing_a_private_node_key_is_refused_with_the_reason(nodes, clock):
    import base64
    import json

    no, jp = nodes
    clock.advance(seconds=1)
    header, body, signature = no.node.exchange.export_directory().split(".")
    document = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    document["node_key"]["d"] = base64.urlsafe_b64encode(b"\x01" * 32).rstrip(b"=").decode()
    leaked = base64.urlsafe_b64encode(json.dumps(document).encode()).rstrip(b"=").decode()
    with pytest.raises(InvalidInput, match="public JWK"):  # the fingerprint (kty, crv, x) still matches
        jp.node.exchange.import_directory(f"{header}.{leaked}.{signature}", no.node.exchange.node_fingerprint(), "t")
