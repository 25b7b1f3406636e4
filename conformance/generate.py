"""Generate the conformance vectors in ``conformance/vectors/`` with the keys in ``conformance/keys/``.

    python conformance/generate.py            # rewrite the vectors
    python conformance/generate.py --check    # exit 1 if a deterministic vector would change

Everything is made with the node's own code (``adapters/jose.py``, ``adapters/audit_log.py``,
``adapters/cosignature.py``, ``adapters/merkle.py``) from fixed keys and a fixed clock, so every
vector is byte-for-byte reproducible — Ed25519 signatures are deterministic — except the JWE
encryptions (an ephemeral key and an IV drawn at random each time, as RFC 7516 requires): those are
generated once and kept; ``tests/exchange/test_conformance.py`` checks that they open.

The keys are TEST KEYS, published on purpose: never use them for anything else.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import NAMESPACE_URL, uuid5

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey  # noqa: E402
from joserfc.jwk import OKPKey  # noqa: E402

from adapters import jose  # noqa: E402
from adapters.audit_log import leaf_data, sign_checkpoint  # noqa: E402
from adapters.cosignature import cosign  # noqa: E402
from adapters.merkle import MerkleTree, leaf_hash  # noqa: E402
from conformance.messages import KIND_EXAMPLES  # noqa: E402
from service.exchange.schemas import BODY_SCHEMAS, EnvelopePayload  # noqa: E402

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)
KEYS, VECTORS = ROOT / "keys", ROOT / "vectors"


def _b64u(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _seed(label: str) -> bytes:
    return hashlib.sha256(f"cmaa-conformance-v1/{label}".encode()).digest()


def private_jwk(label: str, kid: str, crv: str) -> dict:
    """A key derived from a fixed label: the same every run."""
    if crv == "Ed25519":
        private = Ed25519PrivateKey.from_private_bytes(_seed(label))
    else:
        private = X25519PrivateKey.from_private_bytes(_seed(label))
    from cryptography.hazmat.primitives import serialization as s

    raw_d = private.private_bytes(s.Encoding.Raw, s.PrivateFormat.Raw, s.NoEncryption())
    raw_x = private.public_key().public_bytes(s.Encoding.Raw, s.PublicFormat.Raw)
    return {"kty": "OKP", "crv": crv, "x": _b64u(raw_x), "d": _b64u(raw_d), "kid": kid}


def public(jwk: dict) -> dict:
    return {k: v for k, v in jwk.items() if k != "d"}


def all_keys() -> dict[str, dict]:
    stamp = NOW.strftime("%Y%m%dT%H%M%S")
    return {
        "no-node": private_jwk("NO/node", "node-sig", "Ed25519"),
        "jp-node": private_jwk("JP/node", "node-sig", "Ed25519"),
        "no-hansen-sig": private_jwk("NO/no-hansen/sig", f"NO.no-hansen.sig.{stamp}.00000001", "Ed25519"),
        "no-hansen-enc": private_jwk("NO/no-hansen/enc", f"NO.no-hansen.enc.{stamp}.00000001", "X25519"),
        "jp-tanaka-sig": private_jwk("JP/jp-tanaka/sig", f"JP.jp-tanaka.sig.{stamp}.00000001", "Ed25519"),
        "jp-tanaka-enc": private_jwk("JP/jp-tanaka/enc", f"JP.jp-tanaka.enc.{stamp}.00000001", "X25519"),
    }


def okp(jwk: dict) -> OKPKey:
    return OKPKey.import_key(jwk)


def directory(admin: str, name: str, official: str, keys: dict) -> dict:
    prefix = admin.lower()
    entries = [{"kid": keys[f"{official}-{use}"]["kid"], "use": use,
                "jwk": {k: v for k, v in public(keys[f"{official}-{use}"]).items() if k != "kid"},
                "valid_from": NOW.isoformat(), "valid_until": (NOW + timedelta(days=365)).isoformat()}
               for use in ("sig", "enc")]
    return {"type": "cmaa-directory", "v": 1, "administration": admin, "name": name,
            "endpoint": f"https://cmaa.{prefix}.example", "issued_at": NOW.isoformat(),
            "node_key": public(keys[f"{prefix}-node"]), "officials": {official: {"name": name + " official",
                                                                               "keys": entries}}}


def envelope_content(kind: str, checkpoint: str | None) -> dict:
    example = KIND_EXAMPLES[kind]
    sender, receiver = ("NO", "JP") if example["from"] == "NO" else ("JP", "NO")
    official = {"NO": "no-hansen", "JP": "jp-tanaka"}
    opened_by = example.get("opened_by", "NO")
    exchange_id = str(uuid5(NAMESPACE_URL, f"cmaa-conformance:case:{opened_by}:{example.get('case', 'main')}"))
    content = {"v": 1, "id": str(uuid5(NAMESPACE_URL, f"cmaa-conformance:envelope:{kind}")),
               "created_at": NOW.isoformat(), "sent_at": NOW.isoformat(),
               "from": {"administration": sender, "official": official[sender]},
               "to": {"administration": receiver, "officials": [official[receiver]]}, "agreement": "jp-no-2016",
               "case": {"exchange_id": exchange_id, "opened_by": opened_by,
                        "reference": f"{opened_by}-2026-{exchange_id[:8].upper()}"},
               "kind": kind, "body": example["body"], "checkpoint": checkpoint}
    EnvelopePayload.model_validate(content)
    BODY_SCHEMAS[kind].model_validate(content["body"])
    return content


def small_log(keys: dict) -> dict:
    """A log of five events, two checkpoints (3 and 5 leaves), JP's cosignature of the newer one."""
    stream = str(uuid5(NAMESPACE_URL, "cmaa-conformance:case:NO:main"))
    events = []
    tree = MerkleTree()
    for version, topic in enumerate(["domain.case:AssistanceCase.AssistanceRequested",
                                     "domain.case:AssistanceCase.EnvelopeDelivered",
                                     "domain.case:AssistanceCase.RequestAcknowledged",
                                     "domain.case:AssistanceCase.InformationProvided",
                                     "domain.case:AssistanceCase.CaseClosed"], start=1):
        state = json.dumps({"at": (NOW + timedelta(minutes=version)).isoformat(), "n": version},
                           separators=(",", ":")).encode()
        leaf = leaf_hash(leaf_data(stream, version, topic, state))
        index = tree.append(leaf)
        events.append({"leaf_index": index, "sealed_leaf_hash": leaf.hex(), "originator_id": stream,
                       "originator_version": version, "topic": topic, "state": base64.b64encode(state).decode()})
    no_node = okp(keys["no-node"]).private_key
    older = sign_checkpoint("cmaa-exchange/NO", 3, tree.root(3), no_node)
    latest = sign_checkpoint("cmaa-exchange/NO", 5, tree.root(5), no_node)
    cosigned = cosign(latest, "cmaa-exchange/JP", okp(keys["jp-node"]).private_key, int(NOW.timestamp()))
    bundle = {"type": "cmaa-audit-bundle", "v": 1, "origin": "cmaa-exchange/NO",
              "node_key": {k: v for k, v in public(keys["no-node"]).items() if k != "kid"}, "scope": {"all": True},
              "checkpoint": {"note": latest},
              "checkpoints": [{"note": older, "consistency_proof": [p.hex() for p in tree.consistency_proof(3, 5)]}],
              "cosignatures": [{"witness": "JP", "witness_key": {k: v for k, v in public(keys["jp-node"]).items()
                                                                 if k != "kid"}, "note": cosigned}],
              "events": events}
    return {"checkpoint": latest, "older_checkpoint": older, "cosigned_checkpoint": cosigned, "bundle": bundle,
            "inclusion": {"leaf_index": 2, "tree_size": 5, "leaf_hash": events[2]["sealed_leaf_hash"],
                          "root": tree.root(5).hex(), "proof": [p.hex() for p in tree.inclusion_proof(2, 5)]},
            "consistency": {"old_size": 3, "new_size": 5, "old_root": tree.root(3).hex(),
                            "new_root": tree.root(5).hex(), "proof": [p.hex() for p in tree.consistency_proof(3, 5)]}}


def deterministic(keys: dict) -> dict[str, object]:
    """Every vector that is the same on each run, by file name."""
    out: dict[str, object] = {}
    no_dir = directory("NO", "Norwegian Customs", "no-hansen", keys)
    jp_dir = directory("JP", "Japan Customs", "jp-tanaka", keys)
    out["directory-no.json"] = {"payload": no_dir, "jws": jose.sign(no_dir, okp(keys["no-node"]),
                                                                    "cmaa-directory+jws")}
    out["directory-jp.json"] = {"payload": jp_dir, "jws": jose.sign(jp_dir, okp(keys["jp-node"]),
                                                                    "cmaa-directory+jws")}
    log = small_log(keys)
    out["checkpoint.txt"] = log["checkpoint"]
    out["cosigned-checkpoint.txt"] = log["cosigned_checkpoint"]
    out["bundle.json"] = log["bundle"]
    out["proofs.json"] = {"inclusion": log["inclusion"], "consistency": log["consistency"]}
    for kind in sorted(KIND_EXAMPLES):
        content = envelope_content(kind, log["checkpoint"] if KIND_EXAMPLES[kind]["from"] == "NO" else None)
        signer = keys["no-hansen-sig" if content["from"]["administration"] == "NO" else "jp-tanaka-sig"]
        out[f"envelope-{kind.replace('_', '-')}.json"] = {"content": content,
                                                          "jws": jose.sign(content, okp(signer), jose.ENVELOPE_JWS_TYP)}
    return out


def sealed(keys: dict, vectors: dict) -> dict[str, object]:
    """The JWE of each envelope, its receipt, and a rejection (random: kept once generated)."""
    out: dict[str, object] = {}
    for name, vector in vectors.items():
        if not name.startswith("envelope-"):
            continue
        receiver = vector["content"]["to"]["administration"]
        enc = keys["jp-tanaka-enc" if receiver == "JP" else "no-hansen-enc"]
        out[name] = {**vector, "jwe": jose.encrypt(vector["jws"], {enc["kid"]: public(enc)})}
    request = out["envelope-request.json"]
    body = jose.canonical(request["jwe"])
    request["jwe_bytes_sha256"] = hashlib.sha256(body).hexdigest()
    request["jwe_bytes"] = body.decode()
    receipt = {"type": "cmaa-receipt", "envelope_id": request["content"]["id"],
               "envelope_sha256": request["jwe_bytes_sha256"], "sender": "NO", "receiver": "JP",
               "received_at": NOW.isoformat(), "status": "accepted", "checkpoint": None,
               "cosigned_checkpoint": vectors["cosigned-checkpoint.txt"]}
    out["receipt.json"] = {"payload": receipt, "jws": jose.sign(receipt, okp(keys["jp-node"]), "cmaa-receipt+jws")}
    rejection = {"type": "cmaa-rejection", "envelope_id": request["content"]["id"],
                 "envelope_sha256": request["jwe_bytes_sha256"], "receiver": "JP", "step": 13,
                 "code": "agreement-not-in-force", "reason": "the agreement jp-no-2016 is not in force",
                 "article": "JP-NO Art. 19", "at": NOW.isoformat()}
    out["rejection.json"] = {"payload": rejection,
                             "jws": jose.sign(rejection, okp(keys["jp-node"]), "cmaa-rejection+jws")}
    return out


def render(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    keys = all_keys()
    vectors = deterministic(keys)
    if "--check" in argv:
        stale = [n for n, v in vectors.items() if not (VECTORS / n).exists()
                 or (n.startswith("envelope-") and {k: json.loads((VECTORS / n).read_text())[k] for k in ("content", "jws")}
                     != v) or (not n.startswith("envelope-") and (VECTORS / n).read_text() != render(v))]
        print("\n".join(stale) or "vectors up to date")
        return 1 if stale else 0
    KEYS.mkdir(exist_ok=True)
    VECTORS.mkdir(exist_ok=True)
    for name, jwk in keys.items():
        (KEYS / f"{name}.jwk.json").write_text(render(jwk))
    for name, value in {**vectors, **sealed(keys, vectors)}.items():
        (VECTORS / name).write_text(render(value))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
