"""RFC 9162 Merkle tree: hashes, inclusion and consistency proofs.

Leaf hash ``SHA-256(0x00 || data)``, interior ``SHA-256(0x01 || left || right)``
(RFC 9162 §2.1.1). Proofs follow §2.1.3 (inclusion) and §2.1.4 (consistency),
verification the algorithms of §2.1.3.2 and §2.1.4.2.

Proof generation never re-hashes the tree: a :class:`NodeStore` keeps the hash
of every *perfect* subtree (``2**level`` leaves starting at ``index * 2**level``)
as leaves are appended, so any subtree hash needs O(log n) lookups and a proof
O(log² n) at worst.
"""

from __future__ import annotations

import hashlib
from typing import Protocol


class ProofError(Exception):
    """A proof does not verify (or asks for something the tree does not have)."""


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


class NodeStore(Protocol):
    def get(self, level: int, index: int) -> bytes: ...

    def put(self, level: int, index: int, digest: bytes) -> None: ...

    def size(self) -> int: ...


class MemoryNodes:
    """Perfect-subtree hashes in a dict (tests, offline verification)."""

    def __init__(self) -> None:
        self._nodes: dict[tuple[int, int], bytes] = {}
        self._size = 0

    def get(self, level: int, index: int) -> bytes:
        return self._nodes[(level, index)]

    def put(self, level: int, index: int, digest: bytes) -> None:
        self._nodes[(level, index)] = digest
        if level == 0:
            self._size = max(self._size, index + 1)

    def size(self) -> int:
        return self._size


class MerkleTree:
    """An append-only tree over a :class:`NodeStore`."""

    def __init__(self, nodes: NodeStore | None = None):
        self.nodes = nodes if nodes is not None else MemoryNodes()
        # Partial subtrees all end at the tree size: within one proof there are only
        # O(log n) of them, so each is computed once (proofs stay O(log n) lookups).
        self._partial: dict[tuple[int, int], bytes] = {}

    @property
    def size(self) -> int:
        return self.nodes.size()

    def append(self, leaf: bytes) -> int:
        """Append a leaf *hash*; store every perfect subtree it completes. Returns its index."""
        self._partial.clear()  # partial subtrees at the right edge change as the tree grows
        index = self.size
        self.nodes.put(0, index, leaf)
        level, position, digest = 0, index, leaf
        while position % 2 == 1:
            digest = node_hash(self.nodes.get(level, position - 1), digest)
            level, position = level + 1, position // 2
            self.nodes.put(level, position, digest)
        return index

    # -- subtree hashes -----------------------------------------------------------
    def _hash(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end)."""
        count = end - start
        if count == 0:
            return EMPTY_ROOT
        if count & (count - 1) == 0 and start % count == 0:
            return self.nodes.get(count.bit_length() - 1, start // count)
        if (start, end) not in self._partial:
            k = _split(count)
            self._partial[(start, end)] = node_hash(self._hash(start, start + k), self._hash(start + k, end))
        return self._partial[(start, end)]

    def root(self, size: int | None = None) -> bytes:
        size = self.size if size is None else size
        self._check_size(size)
        return self._hash(0, size)

    # -- proofs -------------------------------------------------------------------
    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1."""
        size = self.size if size is None else size
        self._check_size(size)
        if not 0 <= index < size:
            raise ProofError(f"leaf {index} is not in a tree of size {size}")
        proof: list[bytes] = []
        start, end = 0, size
        while end - start > 1:
            k = _split(end - start)
            if index < start + k:
                proof.append(self._hash(start + k, end))
                end = start + k
            else:
                proof.append(self._hash(start, start + k))
                start = start + k
        return list(reversed(proof))

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(m, D[0:n]) of RFC 9162 §2.1.4.1."""
        new_size = self.size if new_size is None else new_size
        self._check_size(new_size)
        if not 0 < old_size <= new_size:
            raise ProofError(f"no consistency proof from {old_size} to {new_size}")
        return self._subproof(old_size, 0, new_size, True)

    def _subproof(self, m: int, start: int, end: int, complete: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if complete else [self._hash(start, end)]
        k = _split(n)
        if m <= k:
            return self._subproof(m, start, start + k, complete) + [self._hash(start + k, end)]
        return self._subproof(m - k, start + k, end, False) + [self._hash(start, start + k)]

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise ProofError(f"the tree has {self.size} leaves, not {size}")


class _Tracing:
    """A node store that notes which nodes are read and answers each with a placeholder: which subtrees a
    root or a proof reads depends on the sizes only, never on the hashes (:func:`nodes_read_by`)."""

    def __init__(self, size: int):
        self._size, self.read = size, set()

    def get(self, level: int, index: int) -> bytes:
        self.read.add((level, index))
        return bytes(32)

    def put(self, level: int, index: int, digest: bytes) -> None:
        raise ProofError("a traced computation only reads")

    def size(self) -> int:
        return self._size


def nodes_read_by(compute, size: int) -> set[tuple[int, int]]:
    """The (level, index) of every stored node ``compute(tree)`` reads from a tree of ``size`` leaves, found by
    running it on placeholders: a store can then read them all at once. Errors (a size out of range) are left
    to the real run."""
    tracing = _Tracing(size)
    try:
        compute(MerkleTree(tracing))
    except ProofError:
        pass
    return tracing.read


# -- verification (RFC 9162 §2.1.3.2, §2.1.4.2): needs nothing but the proof ---------------
def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> None:
    if not 0 <= index < size:
        raise ProofError("leaf index out of range")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof too long")
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or r != root:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]) -> None:
    if not 0 < old_size <= new_size:
        raise ProofError("sizes out of order")
    if old_size == new_size:
        if proof or old_root != new_root:
            raise ProofError("equal sizes need an empty proof and equal roots")
        return
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    if not path:
        raise ProofError("empty consistency proof")
    fn, sn = old_size - 1, new_size - 1
    while fn % 2 == 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof too long")
        if fn % 2 == 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0 or fr != old_root or sr != new_root:
        raise ProofError("consistency proof does not connect the two roots")
