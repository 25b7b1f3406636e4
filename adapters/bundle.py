"""Audit bundles: export from a store, verify offline (no node, no database).

A bundle is one JSON document (specified in ``docs/audit-format.md``):

* ``origin``, ``node_key`` (public JWK) — whose log this is;
* ``checkpoint`` — the signed checkpoint the bundle is verified against;
* ``checkpoints`` — earlier signed checkpoints, each with a consistency proof
  to ``checkpoint`` (a node that rewrote its past cannot produce these);
* ``events`` — events *as stored* (state bytes base64), each with its leaf index
  and the leaf hash the sealer recorded, and — for a case bundle — an inclusion
  proof; a full bundle carries every leaf, so the verifier rebuilds the tree.

:func:`verify_bundle` re-hashes every stored event, checks every proof and
signature, and returns each problem classified as ``manipulation``, ``gap`` or
``notice``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from adapters.audit_log import AuditLog, leaf_data, verify_checkpoint
from adapters.cosignature import verify_cosignature
from adapters.merkle import MerkleTree, ProofError, leaf_hash, verify_consistency, verify_inclusion

BUNDLE_TYPE = "cmaa-audit-bundle"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def export_bundle(store, log: AuditLog, node_key: dict, case_id: UUID | None = None,
                  witness_keys: dict[str, dict] | None = None, since: datetime | None = None,
                  until: datetime | None = None) -> dict[str, Any]:
    """A bundle of the whole log, of one case, or of the events stored in a time range, against
    the latest checkpoint, with the partners' cosignatures and their node keys (``witness_keys``)."""
    latest = log.latest_checkpoint()
    if latest is None:
        raise ValueError("no signed checkpoint yet: nothing to verify against")
    ranged = since is not None or until is not None
    leaves = _leaves(log, latest.size, case_id)
    if ranged:
        leaves = [row for row in leaves if _stored_within(store, row["notification_id"], since, until)]
    partial = case_id is not None or ranged
    events = []
    by_notification = {}
    chunk = 1 if partial else 1000  # a case's (or a range's) events are sparse in the log
    for start in range(0, len(leaves), chunk):
        ids = [row["notification_id"] for row in leaves[start:start + chunk]]
        for n in store.recorder.select_notifications(min(ids), max(ids) - min(ids) + 1, stop=max(ids)):
            by_notification[n.id] = n
    for row in leaves:
        n = by_notification.get(row["notification_id"])
        event = {"leaf_index": row["leaf_index"], "sealed_leaf_hash": row["leaf_hash"].hex(),
                 "originator_id": row["originator_id"], "originator_version": row["originator_version"],
                 "topic": n.topic if n else None, "state": _b64(n.state) if n else None}
        if partial:
            event["inclusion_proof"] = [p.hex() for p in log.inclusion_proof(row["leaf_index"], latest.size)]
        events.append(event)
    return {
        "type": BUNDLE_TYPE, "v": 1, "origin": log.origin, "node_key": node_key,
        "scope": ({"case_id": str(case_id)} if case_id else
                  {"since": since.isoformat() if since else None, "until": until.isoformat() if until else None}
                  if ranged else {"all": True}),
        "checkpoint": {"note": latest.note},
        "checkpoints": [{"note": c["note"], "consistency_proof": [p.hex() for p in
                                                                  log.consistency_proof(c["size"], latest.size)]}
                        for c in _checkpoints(log) if 0 < c["size"] < latest.size],
        "cosignatures": [{"witness": c["witness"], "witness_key": (witness_keys or {}).get(c["witness"]),
                          "note": c["note"]} for c in log.cosignatures()],
        "events": events,
    }


def _stored_within(store, notification_id: int, since: datetime | None, until: datetime | None) -> bool:
    [notification] = store.recorder.select_notifications(notification_id, 1)
    stored_at = store.mapper.to_domain_event(notification).timestamp
    return (since is None or stored_at >= since) and (until is None or stored_at < until)


def _leaves(log: AuditLog, size: int, case_id: UUID | None) -> list[dict]:
    where, params = "WHERE leaf_index < ?", [size]
    if case_id is not None:
        where += " AND originator_id = ?"
        params.append(str(case_id))
    with log._transaction() as cursor:
        cursor.execute(log.sql("SELECT leaf_index, notification_id, originator_id, originator_version, leaf_hash "
                               f"FROM {{p}}cmaa_merkle_leaves {where} ORDER BY leaf_index"), tuple(params))
        rows = cursor.fetchall()
    keys = ("leaf_index", "notification_id", "originator_id", "originator_version", "leaf_hash")
    return [{k: (bytes(v) if k == "leaf_hash" else v) for k, v in (dict(r) if log.postgres else dict(zip(keys, r))).items()}
            for r in rows]


def _checkpoints(log: AuditLog) -> list[dict]:
    with log._transaction() as cursor:
        cursor.execute(log.sql("SELECT tree_size, note FROM {p}cmaa_checkpoints ORDER BY tree_size"))
        rows = cursor.fetchall()
    return [{"size": r["tree_size"], "note": r["note"]} if log.postgres else {"size": r[0], "note": r[1]}
            for r in rows]


# -- offline verification ------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    kind: str  # manipulation | gap | notice
    where: str
    detail: str


@dataclass
class Verdict:
    events: int = 0
    tree_size: int = 0
    problems: list[Problem] = field(default_factory=list)
    cosigned: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        return not any(p.kind in ("manipulation", "gap") for p in self.problems)

    def add(self, kind: str, where: str, detail: str) -> None:
        self.problems.append(Problem(kind, where, detail))


def _public_key(jwk: dict) -> Ed25519PublicKey:
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("the bundle's node key is not an Ed25519 JWK")
    raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    return Ed25519PublicKey.from_public_bytes(raw)


def verify_bundle(bundle: dict[str, Any], held_checkpoints: tuple[str, ...] = (),
                  progress: Callable[[int], None] | None = None) -> Verdict:
    """Verify a bundle with nothing but its content (and checkpoints held elsewhere)."""
    verdict = Verdict()
    # 1. Whose log, and the checkpoint's signature (stops a bundle forged by someone else).
    if bundle.get("type") != BUNDLE_TYPE or bundle.get("v") != 1:
        verdict.add("manipulation", "bundle", "not a cmaa audit bundle, version 1")
        return verdict
    origin = bundle["origin"]
    try:
        key = _public_key(bundle["node_key"])
        size, root = verify_checkpoint(bundle["checkpoint"]["note"], origin, key)
    except (ValueError, KeyError) as error:
        verdict.add("manipulation", "checkpoint", f"the checkpoint does not verify: {error}")
        return verdict
    verdict.tree_size = size
    events = bundle.get("events", [])
    verdict.events = len(events)
    full = bool(bundle.get("scope", {}).get("all"))
    tree = MerkleTree()
    seen_versions: dict[str, list[int]] = {}
    # 2. Every event re-hashed from its stored bytes (stops edited events).
    for position, event in enumerate(events):
        where = f"leaf {event.get('leaf_index')} ({event.get('originator_id')} v{event.get('originator_version')})"
        if event.get("state") is None:
            verdict.add("gap", where, "the sealed event is missing from the store")
            leaf = bytes.fromhex(event["sealed_leaf_hash"])
        else:
            leaf = leaf_hash(leaf_data(event["originator_id"], event["originator_version"], event["topic"],
                                       base64.b64decode(event["state"])))
            if leaf.hex() != event["sealed_leaf_hash"]:
                verdict.add("manipulation", where, "the stored bytes differ from what was sealed")
        seen_versions.setdefault(event["originator_id"], []).append(event["originator_version"])
        if full:
            # 3. A full bundle: leaves contiguous from 0, in order (stops deleted or reordered events).
            if event["leaf_index"] != position:
                verdict.add("gap", where, f"expected leaf {position}: a leaf is missing or out of order")
            tree.append(leaf)
        else:
            # 3'. A case bundle: each event's inclusion in the signed tree.
            try:
                verify_inclusion(leaf, event["leaf_index"], size, [bytes.fromhex(p) for p in event["inclusion_proof"]],
                                 root)
            except (ProofError, KeyError, ValueError):
                verdict.add("manipulation", where, "not included in the signed tree as claimed")
        if progress:
            progress(1)
    # 4. The whole tree against the signed root (stops truncation and any rewrite of the log).
    if full:
        if tree.size != size:
            verdict.add("gap", "log", f"the checkpoint commits to {size} leaves; the bundle has {tree.size}")
        elif tree.root() != root:
            verdict.add("manipulation", "log", "the events do not hash to the signed root")
    # 5. Versions of each stream without holes (stops a deleted step inside a case); a time
    #    range holds parts of streams, so there each event's inclusion proof is the check.
    ranged = "since" in bundle.get("scope", {}) or "until" in bundle.get("scope", {})
    for stream, versions in ({} if ranged else seen_versions).items():
        ordered = sorted(versions)
        if ordered != list(range(1, len(ordered) + 1)):
            verdict.add("gap", stream, f"versions {ordered} are not contiguous from 1")
    # 6. Earlier checkpoints, the node's and those held by partners or auditors: the signed
    #    tree must extend each (stops forks: a history rebuilt with the same key).
    #    A case bundle proves the tree extends each checkpoint the node signed; a checkpoint held elsewhere
    #    is checked with the proof for its size (a fork gives another root, which that proof fails).
    proofs: dict[int, list[str] | None] = {}
    for entry in bundle.get("checkpoints", []):
        proof = entry.get("consistency_proof")
        proofs[_check_older(verdict, entry["note"], lambda _, proof=proof: proof, origin, key, size, root, tree,
                            full)] = proof
    for note in held_checkpoints:
        _check_older(verdict, note, proofs.get, origin, key, size, root, tree, full)
    # 7. Partners' cosignatures: each partner witnessed a checkpoint of this log; it must verify
    #    with the partner's key and be consistent with the tree too.
    for cosignature in bundle.get("cosignatures", []):
        witness = cosignature.get("witness", "?")
        try:
            witness_key = _public_key(cosignature["witness_key"])
            verify_cosignature(cosignature["note"], f"cmaa-exchange/{witness}", witness_key, origin)
        except (ValueError, KeyError, TypeError) as error:
            verdict.add("manipulation", f"cosignature by {witness}", f"does not verify: {error}")
            continue
        verdict.cosigned.add(witness)
        _check_older(verdict, cosignature["note"], proofs.get, origin, key, size, root, tree, full)
    return verdict


def _check_older(verdict: Verdict, note: str, proof_for, origin: str, key: Ed25519PublicKey,
                 size: int, root: bytes, tree: MerkleTree, full: bool) -> int | None:
    """Check an earlier checkpoint against the tree (``proof_for(its size)``: a consistency proof to it, if any);
    return its size, or None if it does not verify."""
    try:
        old_size, old_root = verify_checkpoint(note, origin, key)
    except ValueError as error:
        verdict.add("manipulation", "held checkpoint", f"does not verify: {error}")
        return None
    if old_size > size:
        verdict.add("manipulation", f"checkpoint {old_size}", f"a signed checkpoint of {old_size} leaves exists; "
                    f"the log now claims {size}: truncated")
        return old_size
    proof = proof_for(old_size)
    try:
        if full and tree.size == size:
            if tree.root(old_size) != old_root:
                raise ProofError("different history")
        elif old_size == size:  # the bundle's own tree size: the same root, or another history
            if old_root != root:
                raise ProofError("different history")
        elif proof is not None:
            verify_consistency(old_size, size, old_root, root, [bytes.fromhex(p) for p in proof])
        else:
            verdict.add("notice", f"checkpoint {old_size}", f"this bundle has no consistency proof from "
                        f"{old_size} leaves (the node signed no checkpoint of that size); a full bundle checks it")
    except ProofError:
        verdict.add("manipulation", f"checkpoint {old_size}", "the signed tree does not extend this earlier "
                    "checkpoint: the history was rewritten (fork)")
    return old_size
