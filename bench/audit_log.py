"""The audit log's cost and the offline verifier's speed.

1. Append throughput (single-event commits, SQLite) with the sealer sealing
   concurrently in the same process versus no sealer (the baseline), same run.
2. Offline verification of a full bundle of N events, in events/s, next to a
   baseline of plain SHA-256 over the same stored bytes, same run.

    python bench/audit_log.py [--commits 3000] [--verify 100000]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from joserfc.jwk import OKPKey  # noqa: E402

from adapters.audit_log import AuditLog, leaf_data, sign_checkpoint  # noqa: E402
from adapters.bundle import verify_bundle  # noqa: E402
from adapters.merkle import MerkleTree, leaf_hash  # noqa: E402
from adapters.store import EventStore  # noqa: E402
from domain.credentials import Credential  # noqa: E402

AT = datetime(2026, 1, 1, tzinfo=UTC)


def commits_per_second(url: str, n: int, sealing: bool, interval: float = 1.0) -> float:
    """``interval``: the sealer's pause when caught up (the node's CMAA_SEALER_INTERVAL_SECONDS)."""
    store = EventStore(url)
    log, stop = AuditLog(store, "bench"), threading.Event()

    def sealer():
        while not stop.is_set():  # as the node's sealer: loop only while batches come back full
            if log.seal(1000) < 1000:
                stop.wait(interval)

    thread = threading.Thread(target=sealer) if sealing else None
    if thread:
        thread.start()
    start = time.perf_counter()
    for _ in range(n):
        store.commit(Credential(token_id=uuid4().hex[:16], official_id="o", secret_digest="d" * 64, by="b", at=AT))
    rate = n / (time.perf_counter() - start)
    stop.set()
    if thread:
        thread.join()
        while log.seal():
            pass
        assert log.size() == n
    store.close()
    return rate


def synthetic_bundle(n: int) -> tuple[dict, list[bytes]]:
    key = Ed25519PrivateKey.generate()
    tree, events, states = MerkleTree(), [], []
    for i in range(n):
        state = (b'{"token_id":"%016d","official_id":"o","secret_digest":"' % i) + b"d" * 64 + b'"}'
        oid, topic = str(uuid4()), "domain.credentials:Credential.CredentialIssued"
        leaf = leaf_hash(leaf_data(oid, 1, topic, state))
        tree.append(leaf)
        states.append(state)
        events.append({"leaf_index": i, "sealed_leaf_hash": leaf.hex(), "originator_id": oid, "originator_version": 1,
                       "topic": topic, "state": base64.b64encode(state).decode()})
    note = sign_checkpoint("bench", n, tree.root(), key)
    return ({"type": "cmaa-audit-bundle", "v": 1, "origin": "bench", "scope": {"all": True},
             "node_key": OKPKey.import_key(key).as_dict(private=False), "checkpoint": {"note": note},
             "checkpoints": [], "events": events}, states)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=3000)
    parser.add_argument("--verify", type=int, default=100_000)
    parser.add_argument("--interval", type=float, default=1.0, help="sealer interval, as the node's default")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        off = commits_per_second(f"sqlite:///{tmp}/off.db", args.commits, sealing=False)
        on = commits_per_second(f"sqlite:///{tmp}/on.db", args.commits, sealing=True, interval=args.interval)
    print(f"append, SQLite: {off:,.0f} commits/s without the log (baseline), {on:,.0f}/s while sealing every "
          f"{args.interval:g} s "
          f"-> the log costs {100 * (1 - on / off):.1f}% of append throughput")
    bundle, states = synthetic_bundle(args.verify)
    start = time.perf_counter()
    for state in states:
        hashlib.sha256(state).digest()
    plain = args.verify / (time.perf_counter() - start)
    start = time.perf_counter()
    verdict = verify_bundle(bundle)
    elapsed = time.perf_counter() - start
    assert verdict.ok, verdict.problems[:3]
    print(f"offline verification of {args.verify:,} events: {elapsed:.2f} s = {args.verify / elapsed:,.0f} events/s "
          f"(plain SHA-256 over the same bytes: {plain:,.0f}/s; ratio {plain / (args.verify / elapsed):.1f}x); "
          f"extrapolated to 10^6 events: {elapsed * 1_000_000 / args.verify:.1f} s")


if __name__ == "__main__":
    main()
