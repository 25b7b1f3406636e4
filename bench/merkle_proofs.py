"""Merkle proof generation at 10^4, 10^5, 10^6 leaves (in-memory node store).

Prints the mean time of an inclusion proof and of a consistency proof at each
size, next to a baseline measured in the same run: one SHA-256 over a 64-byte
input (the unit of work a full re-hash would repeat ~2n times).

    python bench/merkle_proofs.py
"""

from __future__ import annotations

import hashlib
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion  # noqa: E402


def main() -> None:
    start = time.perf_counter()
    for _ in range(100_000):
        hashlib.sha256(b"x" * 64).digest()
    sha_us = (time.perf_counter() - start) / 100_000 * 1e6
    print(f"baseline: one SHA-256 of 64 bytes {sha_us:.2f} µs")
    tree = MerkleTree()
    rng = random.Random(7)
    for target in (10_000, 100_000, 1_000_000):
        while tree.size < target:
            tree.append(leaf_hash(tree.size.to_bytes(8, "big")))
        root = tree.root()
        samples = 200
        start = time.perf_counter()
        for _ in range(samples):
            index = rng.randrange(target)
            proof = tree.inclusion_proof(index)
        inclusion_ms = (time.perf_counter() - start) / samples * 1000
        verify_inclusion(leaf_hash(index.to_bytes(8, "big")), index, target, proof, root)
        start = time.perf_counter()
        for _ in range(samples):
            old = rng.randrange(1, target)
            proof = tree.consistency_proof(old)
        consistency_ms = (time.perf_counter() - start) / samples * 1000
        verify_consistency(old, target, tree.root(old), root, proof)
        full_rehash_ms = 2 * target * sha_us / 1000
        print(f"{target:>9,} leaves: inclusion proof {inclusion_ms:.3f} ms, consistency proof {consistency_ms:.3f} ms"
              f" (a full re-hash would be ~{full_rehash_ms:,.0f} ms; ratio {full_rehash_ms / inclusion_ms:,.0f}x)")


def sql_store(n: int) -> None:
    """The node's own node store: SQLite tables, proofs read through SQL."""
    import tempfile

    from adapters.audit_log import AuditLog
    from adapters.store import EventStore

    with tempfile.TemporaryDirectory() as tmp:
        store = EventStore(f"sqlite:///{tmp}/bench.db")
        log = AuditLog(store, "bench")
        tree = MerkleTree()
        for i in range(n):
            tree.append(leaf_hash(i.to_bytes(8, "big")))
        with log._transaction() as cursor:  # bulk-load the tables the sealer would have written
            cursor.executemany(log.sql("INSERT INTO {p}cmaa_merkle_leaves VALUES (?, ?, ?, ?, ?)"),
                               ((i, i + 1, f"s{i}", 1, tree.nodes.get(0, i)) for i in range(n)))
            cursor.executemany(log.sql("INSERT INTO {p}cmaa_merkle_nodes VALUES (?, ?, ?)"),
                               ((lvl, idx, h) for (lvl, idx), h in tree.nodes._nodes.items() if lvl > 0))
        size, root = log.root()
        assert (size, root) == (n, tree.root())
        rng, samples = random.Random(3), 200
        start = time.perf_counter()
        for _ in range(samples):
            index = rng.randrange(n)
            proof = log.inclusion_proof(index, n)
        elapsed = (time.perf_counter() - start) / samples * 1000
        verify_inclusion(tree.nodes.get(0, index), index, n, proof, root)
        print(f"{n:>9,} leaves, SQLite node store (as the node serves it): inclusion proof {elapsed:.2f} ms")
        store.close()


if __name__ == "__main__":
    main()
    sql_store(1_000_000)
