"""Partners witness each other's logs: a rewritten history is caught at the next exchange."""

from __future__ import annotations

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from adapters.audit_log import sign_checkpoint
from tests.exchange.test_hostile_input import deliver, payload, rejected
from tests.factories import jp_no_request


def checkpoint(side):
    side.node.audit.seal_and_checkpoint()
    return side.node.audit.checkpoint()


def request(no):
    assert no.api.post("/cases", json=jp_no_request(), headers=no.official).status_code == 201
    return no.deliver()


def test_checkpoints_travel_with_envelopes_and_receipts_and_are_cosigned(nodes):
    no, jp = nodes
    mine, theirs = checkpoint(no), checkpoint(jp)
    assert request(no) == 1
    assert jp.node.audit.log.held_from("NO")[:2] == (mine.size, mine.root)  # JP witnessed NO
    assert no.node.audit.log.held_from("JP")[:2] == (theirs.size, theirs.root)  # and NO, JP (from the receipt)
    [cosigned] = no.node.audit.log.cosignatures()
    assert (cosigned["tree_size"], cosigned["witness"]) == (mine.size, "JP")
    assert "\u2014 cmaa-exchange/JP " in cosigned["note"]


def test_a_grown_log_is_checked_with_a_consistency_proof_from_the_partner(nodes):
    no, jp = nodes
    first = checkpoint(no)
    request(no)
    request(no)
    second = checkpoint(no)
    assert second.size > first.size
    request(no)
    assert jp.node.audit.log.held_from("NO")[0] >= second.size


def sealed(no) -> bytes:
    """An envelope as NO's node seals it: with its latest checkpoint inside the signature."""
    return no.node.exchange.seal(payload(no))


def _alarm_then_blocked(no, jp):
    response = deliver(jp, sealed(no))
    assert response.status_code == 422 and response.json()["code"] == "partner-history-alarm", response.text
    assert jp.node.directory.directory().partners["NO"]["alarm"]
    # Every further envelope from NO is refused until an operator acts.
    again = deliver(jp, sealed(no))
    assert again.status_code == 422 and again.json()["step"] == 13


def present_a_fork(no, jp) -> None:
    """JP witnessed NO's checkpoint; NO then presents another tree of the same size, same key."""
    held = checkpoint(no)
    request(no)
    forged = sign_checkpoint("cmaa-exchange/NO", held.size, b"\x07" * 32,
                             no.node.exchange.keystore.node_signing_key().private_key)
    no.node.exchange.witness.latest_note = lambda: forged
    _alarm_then_blocked(no, jp)


def test_a_forked_checkpoint_of_the_same_size_raises_an_alarm(nodes):
    present_a_fork(*nodes)


def truncate_log(side, size: int) -> None:
    """Cut the side's Merkle log back to ``size`` leaves (a truncation, or a restore of an old backup)."""
    log = side.node.audit.log
    with side.node.store.recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(log.sql("DELETE FROM {p}cmaa_merkle_leaves WHERE leaf_index >= ?"), (size,))
        for name in ("cmaa_merkle_nodes", "cmaa_checkpoints"):
            cursor.execute(f"DELETE FROM {log.prefix}{name}")


def test_a_truncated_log_raises_an_alarm(nodes):
    no, jp = nodes
    request(no)
    request(no)
    checkpoint(no)
    request(no)
    smaller = sign_checkpoint("cmaa-exchange/NO", 1, no.node.audit.log.root(1)[1],
                              no.node.exchange.keystore.node_signing_key().private_key)
    truncate_log(no, 1)
    no.node.exchange.witness.latest_note = lambda: smaller
    _alarm_then_blocked(no, jp)
    assert "truncated or rolled back" in jp.node.directory.directory().partners["NO"]["alarm"]["reason"]


def test_an_older_checkpoint_still_proven_is_a_stale_view_not_an_alarm(nodes):
    """Receipts of concurrent deliveries come back out of order: an older checkpoint of the
    same history is cosigned, not alarmed, and the newer one stays witnessed."""
    no, jp = nodes
    request(no)
    older = checkpoint(no)
    request(no)
    request(no)
    newer = checkpoint(no)
    request(no)
    assert jp.node.audit.log.held_from("NO")[0] == newer.size > older.size
    no.node.exchange.witness.latest_note = lambda: older.note
    assert deliver(jp, sealed(no)).status_code == 200
    assert jp.node.directory.directory().partners["NO"].get("alarm") is None
    assert jp.node.audit.log.held_from("NO")[0] == newer.size


def test_a_history_rebuilt_with_the_same_key_is_caught_by_the_consistency_proof(nodes):
    no, jp = nodes
    checkpoint(no)
    request(no)
    # Someone with full access to NO's database rewrites an early event and re-seals everything.
    store, log = no.node.store, no.node.audit.log
    first = store.recorder.select_notifications(1, 1)[0]
    table = "stored_events" if not log.postgres else f"{log.prefix}cmaa_events"
    with store.recorder.datastore.transaction(commit=True) as cursor:
        cursor.execute(log.sql(f"UPDATE {table} SET state = ? WHERE originator_id = ? AND originator_version = 1"),
                       (first.state + b" ", first.originator_id.hex if not log.postgres else first.originator_id))
        for name in ("cmaa_merkle_leaves", "cmaa_merkle_nodes", "cmaa_checkpoints"):
            cursor.execute(f"DELETE FROM {log.prefix}{name}")
    no.api.post("/cases", json=jp_no_request(), headers=no.official)
    checkpoint(no)
    _alarm_then_blocked(no, jp)


def test_an_operator_clears_the_alarm_and_exchange_resumes(nodes):
    no, jp = nodes
    present_a_fork(no, jp)
    cleared = jp.api.post("/exchange/partners/NO/alarm/clearance", headers=jp.operator,
                          json={"resolution": "NO restored from backup; confirmed by phone with their operator"})
    assert cleared.status_code == 200, cleared.text
    del no.node.exchange.witness.latest_note
    assert deliver(jp, sealed(no)).status_code == 200
    events = [type(e).__name__ for e in jp.node.store.events.get(jp.node.directory.directory().id)]
    assert events.index("PartnerHistoryAlarmRaised") < events.index("PartnerHistoryAlarmCleared")


def test_a_bundle_carries_partner_cosignatures_that_verify_offline(nodes):
    from adapters.bundle import export_bundle, verify_bundle
    from adapters.keystore import public_jwk

    no, jp = nodes
    checkpoint(no)
    request(no)
    node = no.node
    witness_keys = {"JP": node.directory.directory().partners["JP"]["directory"]["node_key"]}
    # Export against the checkpoint JP cosigned.
    bundle = export_bundle(node.store, node.audit.log, public_jwk(node.exchange.keystore.node_signing_key()),
                           None, witness_keys)
    verdict = verify_bundle(bundle)
    assert verdict.ok and verdict.cosigned == {"JP"}
    bundle["cosignatures"][0]["note"] = bundle["cosignatures"][0]["note"].replace("cmaa-exchange/JP ",
                                                                                  "cmaa-exchange/JP A")
    assert "manipulation" in {p.kind for p in verify_bundle(bundle).problems}


def test_a_checkpoint_presented_again_is_answered_from_memory_and_a_new_one_is_checked(nodes, monkeypatch):
    """Every envelope and receipt carries the sender's latest checkpoint: the same note again
    gets the same cosignature without a store round trip; a different one is checked in full."""
    no, jp = nodes
    witness, note = jp.node.exchange.witness, checkpoint(no).note
    reads = []
    real = type(witness.log).held_from
    monkeypatch.setattr(type(witness.log), "held_from", lambda self, partner: reads.append(partner) or real(self, partner))
    first = witness.observe("NO", note)
    assert first and reads == ["NO"]
    assert witness.observe("NO", note) == first and reads == ["NO"]
    request(no)
    grown = checkpoint(no).note
    assert witness.observe("NO", grown) != first and reads == ["NO", "NO"]
    forked = sign_checkpoint("cmaa-exchange/NO", checkpoint(no).size, b"\x07" * 32,
                             no.node.exchange.keystore.node_signing_key().private_key)
    try:
        witness.observe("NO", forked)
    except Exception as error:  # noqa: BLE001 - the alarm
        assert type(error).__name__ == "HistoryAlarm"
    else:
        raise AssertionError("a fork was answered from memory")


# -- docs/audit-format.md §3a, the rules that leave a checkpoint unwitnessed or refuse it ------------------

def receipt_claims(response) -> dict:
    from adapters import jose

    assert response.status_code == 200, response.text
    return jose.unverified_header_and_payload(response.json()["receipt"])[1]


def answering(status: int | None):
    """A partner's proof endpoint that answers ``status`` (``None``: cannot be reached)."""
    def get(url, **kwargs):
        if status is None:
            raise httpx.ConnectError("connection refused")
        return httpx.Response(status, json={"title": "unavailable"}, request=httpx.Request("GET", url))
    return get


def grown_since_witnessed(no, jp):
    """JP witnessed NO's checkpoint, then NO's log grew and NO signed a larger one: (the first, the grown)."""
    first = checkpoint(no)
    request(no)
    request(no)
    grown = checkpoint(no)
    assert jp.node.audit.log.held_from("NO")[0] == first.size < grown.size
    return first, grown


def test_rule_3_a_checkpoint_that_does_not_verify_is_refused_and_raises_no_alarm(nodes):
    no, jp = nodes
    request(no)
    forged = sign_checkpoint("cmaa-exchange/NO", 1, b"\x07" * 32, Ed25519PrivateKey.generate())
    no.node.exchange.witness.latest_note = lambda: forged
    rejected(jp, sealed(no), 13, "bad-checkpoint")
    assert jp.node.directory.directory().partners["NO"].get("alarm") is None


def test_rule_6_a_grown_checkpoint_without_a_proof_is_accepted_unwitnessed_and_witnessed_later(nodes, monkeypatch):
    """Any failure to fetch PROOF(held, presented) — 404 and 422 included — is not an alarm for a grown tree."""
    no, jp = nodes
    first, grown = grown_since_witnessed(no, jp)
    for status in (404, 422, 503, None):
        monkeypatch.setattr(jp.node.courier.http, "get", answering(status))
        assert receipt_claims(deliver(jp, sealed(no)))["cosigned_checkpoint"] is None, status
        assert jp.node.audit.log.held_from("NO")[0] == first.size
        assert jp.node.directory.directory().partners["NO"].get("alarm") is None
    monkeypatch.undo()
    assert receipt_claims(deliver(jp, sealed(no)))["cosigned_checkpoint"].startswith(grown.note)
    assert jp.node.audit.log.held_from("NO")[0] == grown.size


def test_rule_7_an_older_checkpoint_without_a_proof_is_accepted_not_cosigned_and_not_alarmed(nodes, monkeypatch):
    """Only 404/422 (the partner no longer has the tree) or a proof that fails raise the alarm for an older one."""
    no, jp = nodes
    request(no)
    older = checkpoint(no)
    request(no)
    newer = checkpoint(no)
    request(no)
    assert jp.node.audit.log.held_from("NO")[0] == newer.size
    no.node.exchange.witness.latest_note = lambda: older.note
    for status in (500, 503, None):
        monkeypatch.setattr(jp.node.courier.http, "get", answering(status))
        assert receipt_claims(deliver(jp, sealed(no)))["cosigned_checkpoint"] is None, status
        assert jp.node.directory.directory().partners["NO"].get("alarm") is None
    monkeypatch.setattr(jp.node.courier.http, "get", answering(422))
    _alarm_then_blocked(no, jp)
    assert "truncated or rolled back" in jp.node.directory.directory().partners["NO"]["alarm"]["reason"]
    assert jp.node.audit.log.held_from("NO")[0] == newer.size


def test_a_delivery_is_stored_before_the_courier_fetches_a_proof_for_the_receipts_checkpoint(nodes, monkeypatch):
    """The receipt stands whatever the partner's checkpoint in it shows (an alarm blocks what follows), so
    the courier records the delivery first and witnesses after: the proof's round trip to the partner is not
    part of the delivery (issue 20: a new checkpoint about once a second put it in the latency's tail)."""
    no, jp = nodes
    checkpoint(jp)
    request(no)  # NO witnessed JP's first checkpoint from the receipt
    request(no)
    grown = checkpoint(jp)
    assert no.node.audit.log.held_from("JP")[0] < grown.size
    statuses = []
    real = no.node.courier.http.get

    def get(url, **kwargs):  # NO's courier asks JP for PROOF(held, grown): what has NO stored by then?
        statuses.append([row["status"] for row in no.node.store.exchange.pending()] or ["none pending"])
        return real(url, **kwargs)

    monkeypatch.setattr(no.node.courier.http, "get", get)
    assert request(no) == 1
    assert statuses == [["none pending"]]  # the delivery was stored before the proof was asked for
    assert no.node.audit.log.held_from("JP")[0] == grown.size  # and the grown checkpoint was witnessed


def test_rule_2a_the_same_note_presented_while_its_proof_is_fetched_does_not_wait_for_it(nodes, monkeypatch):
    """Under load a partner's new checkpoint comes in several envelopes at once: the first fetches the proof
    (rule 6), the others carrying the same note are answered without queueing behind that round trip —
    accepted, not held nor cosigned, like an envelope whose proof could not be fetched — and the first settles
    it: held and cosigned."""
    import threading

    from fastapi.testclient import TestClient

    from service.http.app import create_app

    no, jp = nodes
    first, grown = grown_since_witnessed(no, jp)
    asked, release = threading.Event(), threading.Event()
    real = jp.node.courier.http.get

    def slow_partner(url, **kwargs):  # NO's proof endpoint answers only when the test says so
        asked.set()
        assert release.wait(30)
        return real(url, **kwargs)

    monkeypatch.setattr(jp.node.courier.http, "get", slow_partner)
    answers = {}
    fetching = threading.Thread(target=lambda: answers.update(first=deliver(jp, sealed(no))))
    fetching.start()
    try:
        assert asked.wait(30)  # the first envelope's proof is being fetched
        with TestClient(create_app(node=jp.node, run_courier=False)) as other:  # another connection to JP
            second = other.post("/exchange/inbox", content=sealed(no), headers={"Content-Type": "application/jose+json"})
        assert not release.is_set() and fetching.is_alive()  # answered while the fetch was still under way
        assert receipt_claims(second)["cosigned_checkpoint"] is None
        assert jp.node.audit.log.held_from("NO")[0] == first.size
    finally:
        release.set()
        fetching.join(30)
    assert receipt_claims(answers["first"])["cosigned_checkpoint"].startswith(grown.note)
    assert jp.node.audit.log.held_from("NO")[0] == grown.size
    assert jp.node.directory.directory().partners["NO"].get("alarm") is None
