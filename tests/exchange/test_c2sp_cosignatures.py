"""Partners' cosignatures follow C2SP tlog-cosignature (cosignature/v1, Ed25519, signature type
0x04 with a timestamp), so that an off-the-shelf C2SP verifier checks them. The verifier here is
written from https://c2sp.org/tlog-cosignature and https://c2sp.org/signed-note alone: it imports
nothing of the project's adapters, only `cryptography` for Ed25519."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from tests.factories import jp_no_request


def c2sp_verify_cosignature(note: str, cosigner: str, public_raw: bytes) -> int:
    """From the spec: find the line of `cosigner` whose key ID is SHA-256(name || 0x0A || 0x04 || key)[:4],
    split timestamped_signature (u64 big-endian timestamp || 64-byte Ed25519 signature) and verify it
    over "cosignature/v1\\n" "time <timestamp>\\n" || note text. Returns the timestamp."""
    text, _, signatures = note.partition("\n\n")
    text += "\n"
    wanted = hashlib.sha256(cosigner.encode() + b"\n" + b"\x04" + public_raw).digest()[:4]
    for line in signatures.split("\n"):
        if not line.startswith("\u2014 " + cosigner + " "):
            continue
        blob = base64.b64decode(line.rsplit(" ", 1)[1])
        if blob[:4] != wanted:
            continue
        timestamp = int.from_bytes(blob[4:12], "big")
        message = b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + text.encode()
        Ed25519PublicKey.from_public_bytes(public_raw).verify(blob[12:76], message)
        assert len(blob) == 76
        return timestamp
    raise AssertionError(f"no cosignature/v1 line by {cosigner}")


def jp_public_raw(jp) -> bytes:
    return jp.node.exchange.keystore.node_signing_key().private_key.public_key().public_bytes_raw()


def exchange_with_checkpoints(no, jp):
    no.node.audit.seal_and_checkpoint()
    no.api.post("/cases", json=jp_no_request(), headers=no.official)
    assert no.deliver() == 1


def test_a_partners_cosignature_verifies_with_a_c2sp_verifier_written_from_the_spec(nodes, clock):
    no, jp = nodes
    exchange_with_checkpoints(no, jp)
    [kept] = no.node.audit.log.cosignatures()
    assert c2sp_verify_cosignature(kept["note"], "cmaa-exchange/JP", jp_public_raw(jp)) == int(clock.now().timestamp())
    # The cosigned checkpoint is still NO's checkpoint, signed by NO as a plain signed note.
    assert kept["note"].startswith("cmaa-exchange/NO\n")
    lines = kept["note"].split("\n")
    lines[1] = str(int(lines[1]) + 1)  # another tree size under the same signature
    with pytest.raises(InvalidSignature):
        c2sp_verify_cosignature("\n".join(lines), "cmaa-exchange/JP", jp_public_raw(jp))


def test_a_stored_cosignature_of_the_old_form_still_verifies_in_a_bundle(nodes):
    """Before C2SP cosignatures, a witness signed the note body as a plain signed-note line (type 0x01):
    stored histories keep those, and bundles carrying them still verify."""
    from adapters.bundle import export_bundle, verify_bundle
    from adapters.keystore import public_jwk

    no, jp = nodes
    no.node.audit.seal_and_checkpoint()
    latest = no.node.audit.log.latest_checkpoint()
    key = jp.node.exchange.keystore.node_signing_key().private_key
    body = latest.note.partition("\n\n")[0] + "\n"
    key_id = hashlib.sha256(b"cmaa-exchange/JP\n\x01" + jp_public_raw(jp)).digest()[:4]
    legacy = f"{latest.note}\u2014 cmaa-exchange/JP {base64.b64encode(key_id + key.sign(body.encode())).decode()}\n"
    no.node.audit.log.keep_cosignature(latest.size, "JP", legacy)
    witness_keys = {"JP": no.node.directory.directory().partners["JP"]["directory"]["node_key"]}
    bundle = export_bundle(no.node.store, no.node.audit.log,
                           public_jwk(no.node.exchange.keystore.node_signing_key()), None, witness_keys)
    verdict = verify_bundle(bundle)
    assert verdict.ok and verdict.cosigned == {"JP"}
    forged = legacy.replace(base64.b64encode(key_id + key.sign(body.encode())).decode(), base64.b64encode(
        key_id + Ed25519PrivateKey.generate().sign(body.encode())).decode())
    bundle["cosignatures"][0]["note"] = forged
    assert "manipulation" in {p.kind for p in verify_bundle(bundle).problems}


@pytest.mark.postgres
def test_a_cosignature_or_checkpoint_stored_meanwhile_by_another_writer_is_not_an_error(pg_url, tmp_path, clock):
    """Two courier threads (or replicas) that both looked and found nothing both inserted: the second
    failed with an IntegrityError, and with it the whole delivery pass (its envelopes sent again)."""
    import threading

    import psycopg

    from tests.factories import make_node

    node = make_node(pg_url, tmp_path, clock)
    dsn, schema = pg_url.split("?schema=")
    other = psycopg.connect(dsn)  # another writer, its insert not committed yet
    other.execute(f'INSERT INTO "{schema}".cmaa_cosignatures (tree_size, witness, note) VALUES (7, %s, %s)',
                  ("JP", "theirs"))
    other.execute(f'INSERT INTO "{schema}".cmaa_witnessed (partner, tree_size, root, note) VALUES (%s, 7, %s, %s)',
                  ("JP", b"r" * 32, "theirs"))
    failures = []

    def ours():
        try:
            node.audit.log.keep_cosignature(7, "JP", "ours")
            node.audit.log.hold("JP", 7, b"r" * 32, "ours")
        except Exception as error:  # noqa: BLE001 — what the test looks for
            failures.append(error)

    thread = threading.Thread(target=ours)
    thread.start()
    thread.join(0.5)  # ours waits on the other's uncommitted row
    other.commit()
    thread.join(10)
    other.close()
    node.close()
    assert not thread.is_alive() and failures == []
