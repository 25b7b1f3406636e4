"""Checkpoints and proofs through the API: what a partner and an auditor can verify."""

from __future__ import annotations

from uuid import UUID

from joserfc.jwk import OKPKey

from adapters.audit_log import verify_checkpoint
from adapters.merkle import verify_consistency, verify_inclusion
from tests.factories import jp_no_request


def node_public_key(node):
    return OKPKey.import_key(node.exchange.keystore.node_signing_key().as_dict(private=False)).public_key


def test_no_checkpoint_before_anything_is_sealed_is_a_404_problem(api, who):
    response = api.get("/audit/checkpoint")
    assert response.status_code == 404 and response.headers["content-type"] == "application/problem+json"


def test_a_partner_reads_the_signed_checkpoint_and_a_consistency_proof(api, who, node):
    node.audit.seal_and_checkpoint()
    first = api.get("/audit/checkpoint").json()
    api.post("/cases", json=jp_no_request(), headers=who.official)
    node.audit.seal_and_checkpoint()
    node.audit.checkpoint()
    second = api.get("/audit/checkpoint").json()
    assert second["tree_size"] > first["tree_size"]
    origin = "cmaa-exchange/NO"
    size, root = verify_checkpoint(second["note"], origin, node_public_key(node))
    old_size, old_root = verify_checkpoint(first["note"], origin, node_public_key(node))
    proof = api.get("/audit/proofs/consistency", params={"old_size": old_size, "new_size": size}).json()
    verify_consistency(old_size, size, old_root, root, [bytes.fromhex(p) for p in proof["proof"]])


def test_an_auditor_gets_an_inclusion_proof_for_a_case_event(api, who, node):
    case_id = api.post("/cases", json=jp_no_request(), headers=who.official).json()["id"]
    node.audit.seal_and_checkpoint()
    node.audit.checkpoint()
    checkpoint = api.get("/audit/checkpoint").json()
    response = api.get(f"/audit/cases/{case_id}/events/1/inclusion", headers=who.auditor)
    assert response.status_code == 200, response.text
    body = response.json()
    verify_inclusion(bytes.fromhex(body["leaf_hash"]), body["leaf_index"], body["tree_size"],
                     [bytes.fromhex(p) for p in body["proof"]], bytes.fromhex(checkpoint["root"]))
    assert body["tree_size"] == checkpoint["tree_size"]
    assert node.audit.log.leaf_of(UUID(case_id), 1)[0] == body["leaf_index"]
    reads = [n for n in node.store.notifications(1, 1000) if n.topic.endswith("RecordRead")]
    assert len(reads) == 1 and node.store.load(reads[0].originator_id).what == "inclusion proof of event 1"


def test_inclusion_proofs_are_for_auditors_only(api, who, node):
    case_id = api.post("/cases", json=jp_no_request(), headers=who.official).json()["id"]
    node.audit.seal_and_checkpoint()
    assert api.get(f"/audit/cases/{case_id}/events/1/inclusion", headers=who.official).status_code == 403
    assert api.get(f"/audit/cases/{case_id}/events/1/inclusion").status_code == 401


def test_proofs_beyond_the_log_are_a_422_problem_not_a_500(api, who, node):
    node.audit.seal_and_checkpoint()
    response = api.get("/audit/proofs/consistency", params={"old_size": 1, "new_size": 10**9})
    assert response.status_code == 422
    unsealed = api.get(f"/audit/cases/{UUID(int=7)}/events/1/inclusion", headers=who.auditor)
    assert unsealed.status_code == 404


def test_an_inclusion_proof_without_size_is_against_the_latest_signed_checkpoint(api, who, node):
    """docs/audit-format.md §2: leaves sealed after the latest checkpoint are not in the default tree;
    `size` asks for any sealed size, signed or not."""
    first = api.post("/cases", json=jp_no_request(), headers=who.official).json()["id"]
    node.audit.seal_and_checkpoint()
    signed = api.get("/audit/checkpoint").json()["tree_size"]
    later = api.post("/cases", json=jp_no_request(), headers=who.official).json()["id"]
    node.audit.log.seal()  # sealed, not signed
    assert node.audit.log.size() > signed
    default = api.get(f"/audit/cases/{first}/events/1/inclusion", headers=who.auditor).json()
    assert default["tree_size"] == signed
    assert api.get(f"/audit/cases/{later}/events/1/inclusion", headers=who.auditor).status_code == 404
    sized = api.get(f"/audit/cases/{later}/events/1/inclusion", params={"size": node.audit.log.size()},
                    headers=who.auditor)
    assert sized.status_code == 200 and sized.json()["tree_size"] == node.audit.log.size()


def test_an_auditor_downloads_a_bundle_that_verifies_and_the_read_is_recorded(api, who, node):
    from adapters.bundle import verify_bundle

    case_id = api.post("/cases", json=jp_no_request(), headers=who.official).json()["id"]
    answer = api.get("/audit/bundle", params={"purpose": "annual audit 2026"}, headers=who.auditor)
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    verdict = verify_bundle(answer.json())
    assert verdict.ok, verdict.problems
    one_case = api.get("/audit/bundle", params={"purpose": "complaint 17", "case_id": case_id}, headers=who.auditor)
    assert one_case.json()["scope"] == {"case_id": case_id} and verify_bundle(one_case.json()).ok
    reads = [node.store.load(n.originator_id) for n in node.store.notifications(1, 10_000)
             if n.topic.endswith("RecordRead")]
    assert [(r.what, r.purpose, r.reader["official"]) for r in reads] == [
        ("audit bundle", "annual audit 2026", "no-audit"), ("audit bundle", "complaint 17", "no-audit")]


def test_only_an_auditor_gets_a_bundle(api, who):
    for headers in (who.official, who.operator, {}):
        answer = api.get("/audit/bundle", params={"purpose": "curious"}, headers=headers)
        assert answer.status_code in (401, 403), answer.status_code


def test_an_inclusion_proof_of_an_event_that_does_not_exist_is_not_found_not_unsealed(api, who, node):
    """Version 999 was 'event 999 ... is not sealed (yet)', as if it existed."""
    from uuid import uuid4

    case_id = api.post("/cases", json=jp_no_request(), headers=who.official).json()["id"]
    node.audit.seal_and_checkpoint()
    node.audit.checkpoint()
    missing = api.get(f"/audit/cases/{case_id}/events/999/inclusion", headers=who.auditor)
    assert missing.status_code == 404 and missing.json()["type"] == "urn:cmaa:problem:not-found"
    assert "has no event 999" in missing.json()["detail"] and "sealed" not in missing.json()["detail"]
    unknown = api.get(f"/audit/cases/{uuid4()}/events/1/inclusion", headers=who.auditor)
    assert unknown.status_code == 404 and "no case" in unknown.json()["detail"]
    api.post(f"/cases/{case_id}/closure", json={"reason": "withdrawn"}, headers=who.official)
    unsealed = api.get(f"/audit/cases/{case_id}/events/2/inclusion", headers=who.auditor)
    assert unsealed.status_code == 404 and "not sealed (yet)" in unsealed.json()["detail"]
