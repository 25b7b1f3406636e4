"""RFC 9162 (and RFC 6962) Merkle tree: test vectors, proofs, tampering."""

from __future__ import annotations

import hashlib

import pytest

from adapters.merkle import (
    EMPTY_ROOT,
    MerkleTree,
    ProofError,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

# The eight leaves of the RFC 6962 reference tests (certificate-transparency merkle_tree_test).
LEAVES = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def tree_of(n: int) -> MerkleTree:
    tree = MerkleTree()
    for i in range(n):
        tree.append(leaf_hash(i.to_bytes(4, "big")))
    return tree


# -- a direct transcription of RFC 9162 §2.1 as the reference --------------------------------
def mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


def subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    if m == len(leaves):
        return [] if complete else [mth(leaves)]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    if m <= k:
        return subproof(m, leaves[:k], complete) + [mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


def test_rfc_6962_reference_roots():
    tree = MerkleTree()
    for leaf, expected in zip(LEAVES, ROOTS):
        tree.append(leaf_hash(leaf))
        assert tree.root().hex() == expected


def test_empty_tree_root_is_the_hash_of_nothing():
    assert MerkleTree().root() == EMPTY_ROOT == hashlib.sha256(b"").digest()


def test_roots_inclusion_and_consistency_proofs_match_the_rfc_definitions():
    n_max = 33
    tree = tree_of(n_max)
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(n_max)]
    for n in range(1, n_max + 1):
        assert tree.root(n) == mth(leaves[:n])
        for i in range(n):
            proof = tree.inclusion_proof(i, n)
            assert proof == path(i, leaves[:n])
            verify_inclusion(leaves[i], i, n, proof, tree.root(n))
        for m in range(1, n + 1):
            proof = tree.consistency_proof(m, n)
            assert proof == subproof(m, leaves[:n], True)
            verify_consistency(m, n, tree.root(m), tree.root(n), proof)


def test_a_tampered_inclusion_proof_or_leaf_fails():
    tree = tree_of(13)
    proof = tree.inclusion_proof(5, 13)
    leaf = leaf_hash((5).to_bytes(4, "big"))
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash(b"forged"), 5, 13, proof, tree.root())
    with pytest.raises(ProofError):
        verify_inclusion(leaf, 6, 13, proof, tree.root())
    with pytest.raises(ProofError):
        verify_inclusion(leaf, 5, 13, [proof[0][::-1]] + proof[1:], tree.root())
    with pytest.raises(ProofError):
        verify_inclusion(leaf, 5, 13, proof[:-1], tree.root())


def test_a_rewritten_history_fails_the_consistency_check():
    honest, forked = tree_of(10), tree_of(6)
    for i in range(6, 12):
        forked.append(leaf_hash(b"rewritten" + bytes([i])))
    old_root = honest.root(6)
    assert forked.root(6) == old_root  # the fork keeps the first six leaves...
    forked_rewrite = tree_of(5)
    for i in range(5, 12):
        forked_rewrite.append(leaf_hash(b"other" + bytes([i])))
    # ...a fork that changes leaf 5 cannot prove consistency with the checkpoint at 6.
    with pytest.raises(ProofError):
        verify_consistency(6, 12, old_root, forked_rewrite.root(12), forked_rewrite.consistency_proof(6, 12))
    verify_consistency(6, 12, old_root, forked.root(12), forked.consistency_proof(6, 12))


def test_proofs_outside_the_tree_are_refused():
    tree = tree_of(4)
    with pytest.raises(ProofError):
        tree.inclusion_proof(4, 4)
    with pytest.raises(ProofError):
        tree.consistency_proof(5, 4)
    with pytest.raises(ProofError):
        tree.root(5)


# Published proofs for the eight reference leaves (certificate-transparency test data).
LEAF_1 = "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"
SUBTREE_2_4 = "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"
SUBTREE_4_8 = "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"


def reference_tree() -> MerkleTree:
    tree = MerkleTree()
    for leaf in LEAVES:
        tree.append(leaf_hash(leaf))
    return tree


def test_rfc_6962_reference_inclusion_proof_of_leaf_0_in_8():
    assert [p.hex() for p in reference_tree().inclusion_proof(0, 8)] == [LEAF_1, SUBTREE_2_4, SUBTREE_4_8]


def test_rfc_6962_reference_consistency_proof_from_1_to_8():
    assert [p.hex() for p in reference_tree().consistency_proof(1, 8)] == [LEAF_1, SUBTREE_2_4, SUBTREE_4_8]
