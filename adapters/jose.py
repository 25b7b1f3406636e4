"""Sign-then-encrypt envelopes in JOSE, with pinned algorithms.

The format is specified in ``docs/envelope-format.md``:

* inner: JWS compact serialization, ``alg`` ``Ed25519`` (RFC 9864 / RFC 8037),
  ``kid`` naming the sending official's key, ``typ`` ``cmaa-envelope+jws``;
* outer: JWE JSON serialization (general, one entry per recipient), ``enc``
  ``A256GCM``, each recipient ``alg`` ``ECDH-ES+A256KW`` over X25519 with its
  ``kid``; ``cty`` ``JWS``.

Keys are resolved only by ``kid`` from the directory; a key carried in a header
(``jwk``, ``jku``, ``x5u``, ``x5c``, ``x5t``) is refused, never used.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import threading
from typing import Any, Callable

from joserfc import jwe, jws
from joserfc.errors import JoseError
from joserfc.jwe import GeneralJSONEncryption, JWERegistry
from joserfc.jwk import OKPKey
from jwcrypto.common import JWException
from jwcrypto.jwe import JWE as JWCryptoJWE
from jwcrypto.jwk import JWK as JWCryptoJWK

SIG_ALG = "Ed25519"
KEY_ALG = "ECDH-ES+A256KW"
CONTENT_ENC = "A256GCM"
ENVELOPE_JWS_TYP = "cmaa-envelope+jws"
ENVELOPE_JWE_TYP = "cmaa-envelope+jwe"
FORBIDDEN_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"})
_JWE_REGISTRY = JWERegistry(algorithms=[KEY_ALG, CONTENT_ENC], verify_all_recipients=False)


class JoseFailure(Exception):
    """A JOSE structure failed a check; ``code`` names which."""

    def __init__(self, code: str, reason: str):
        self.code = code
        self.reason = reason
        super().__init__(f"{code}: {reason}")


def public_key(jwk: dict[str, Any]) -> OKPKey:
    """A public JWK from the directory (an official's, a partner node's) as a key, parsed once per
    distinct key: parsing and loading it costs more than the signature check it serves. A JWK with a
    private part is refused (private keys live in :mod:`adapters.keystore`)."""
    if not isinstance(jwk, dict) or "d" in jwk:
        raise JoseFailure("not-a-public-key", "a published key must be a public JWK (no private part)")
    return _public_key(json.dumps(jwk, sort_keys=True, separators=(",", ":")))


@functools.lru_cache(maxsize=1024)
def _public_key(canonical_jwk: str) -> OKPKey:
    return OKPKey.import_key(json.loads(canonical_jwk))


_JWCRYPTO_KEYS: dict[int, tuple[OKPKey, JWCryptoJWK]] = {}
_JWCRYPTO_LOCK = threading.Lock()


def _as_jwcrypto(key: OKPKey) -> JWCryptoJWK:
    """The node's own decryption key in jwcrypto's form, converted once per key object (the keystore
    keeps one object per key; the entry holds the object, so its id is not reused meanwhile)."""
    entry = _JWCRYPTO_KEYS.get(id(key))
    if entry is not None and entry[0] is key:
        return entry[1]
    converted = JWCryptoJWK(**key.as_dict(private=True))
    with _JWCRYPTO_LOCK:
        if len(_JWCRYPTO_KEYS) >= 64:
            _JWCRYPTO_KEYS.clear()
        _JWCRYPTO_KEYS[id(key)] = (key, converted)
    return converted


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- signing ------------------------------------------------------------------------
def sign(payload: dict[str, Any], key: OKPKey, typ: str) -> str:
    header = {"alg": SIG_ALG, "kid": key.kid, "typ": typ}
    return jws.serialize_compact(header, canonical(payload), key, algorithms=[SIG_ALG])


def canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


def unverified_header_and_payload(token: str) -> tuple[dict, dict]:
    """Read a compact JWS before verification (only to find the key by ``kid``)."""
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        raise JoseFailure("malformed-jws", "not a JWS compact serialization")
    try:
        header = json.loads(_b64decode(parts[0]))
        payload = json.loads(_b64decode(parts[1]))
    except (ValueError, UnicodeDecodeError):
        raise JoseFailure("malformed-jws", "JWS header or payload is not base64url JSON") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise JoseFailure("malformed-jws", "JWS header and payload must be JSON objects")
    return header, payload


def check_jws_header(header: dict, typ: str) -> str:
    if header.get("alg") != SIG_ALG:
        raise JoseFailure("algorithm-not-allowed", f"JWS alg must be {SIG_ALG}, got {header.get('alg') or 'no alg'}")
    embedded = FORBIDDEN_HEADERS & set(header)
    if embedded:
        raise JoseFailure("embedded-key", f"keys in headers are refused: {', '.join(sorted(embedded))}")
    if header.get("typ") != typ:
        raise JoseFailure("wrong-type", f"JWS typ must be {typ}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise JoseFailure("no-kid", "JWS header names no kid")
    return kid


def verify(token: str, key_for_kid: Callable[[str], OKPKey], typ: str) -> tuple[str, dict]:
    """Verify a compact JWS; return ``(kid, payload)``. Raises :class:`JoseFailure`."""
    header, _ = unverified_header_and_payload(token)
    kid = check_jws_header(header, typ)
    key = key_for_kid(kid)
    try:
        verified = jws.deserialize_compact(token, key, algorithms=[SIG_ALG])
    except JoseError:
        raise JoseFailure("bad-signature", "the signature does not verify") from None
    return kid, json.loads(verified.payload)


# -- encryption ------------------------------------------------------------------------
def encrypt(jws_token: str, recipients: dict[str, dict]) -> dict[str, Any]:
    """Encrypt to each recipient's X25519 public JWK (by kid); JWE general JSON."""
    obj = GeneralJSONEncryption({"enc": CONTENT_ENC, "typ": ENVELOPE_JWE_TYP, "cty": "JWS"}, jws_token.encode())
    for kid, jwk in sorted(recipients.items()):
        obj.add_recipient({"alg": KEY_ALG, "kid": kid}, public_key(jwk))
    return jwe.encrypt_json(obj, None, registry=_JWE_REGISTRY)


def as_general(data: Any) -> dict[str, Any]:
    """Accept either JWE JSON serialization (RFC 7516 §7.2.1 general, §7.2.2 flattened)."""
    if isinstance(data, dict) and "recipients" not in data and "encrypted_key" in data:
        general = {k: v for k, v in data.items() if k not in ("header", "encrypted_key")}
        general["recipients"] = [{"header": data.get("header"), "encrypted_key": data["encrypted_key"]}]
        return general
    return data


def recipient_kids(data: Any) -> list[str]:
    if not isinstance(data, dict) or not isinstance(data.get("recipients"), list):
        raise JoseFailure("malformed-jwe", "not a JWE JSON serialization")
    kids = []
    for recipient in data["recipients"]:
        header = recipient.get("header") if isinstance(recipient, dict) else None
        if not isinstance(header, dict):
            raise JoseFailure("malformed-jwe", "each recipient carries a header")
        if FORBIDDEN_HEADERS & set(header):
            raise JoseFailure("embedded-key", "a recipient header carries a key")
        if "epk" not in header:  # docs/envelope-format.md §3.1 step 1: a JWE outside the profile, no key in it
            raise JoseFailure("malformed-jwe", "a recipient header lacks its ephemeral key (epk)")
        kids.append(header.get("kid"))
    return kids


def decrypt(data: dict[str, Any], kid: str, key: OKPKey) -> str:
    """Decrypt the entry addressed to ``kid``; integrity of ciphertext, tag and
    protected header is checked by AES-GCM. Returns the inner JWS.

    Decryption uses jwcrypto, not joserfc: joserfc (1.8.0) computes the GCM AAD of a
    JSON-serialized JWE from a *re-serialized* protected header instead of the
    encoded header as received (RFC 7516 §5.2 step 14; authlib/joserfc#101), so it
    rejects valid envelopes from partners whose JSON serializer differs from its
    own. jwcrypto uses the received octets. Algorithms are pinned on both.
    """
    try:
        protected = json.loads(_b64decode(data["protected"]))
    except (KeyError, ValueError, TypeError, UnicodeDecodeError):
        raise JoseFailure("malformed-jwe", "the protected header is not base64url JSON") from None
    if not isinstance(protected, dict) or protected.get("enc") != CONTENT_ENC:
        raise JoseFailure("algorithm-not-allowed", f"JWE enc must be {CONTENT_ENC}")
    if FORBIDDEN_HEADERS & set(protected) or "unprotected" in data:
        raise JoseFailure("embedded-key", "header parameters outside the profile are refused")
    [entry] = [r for r in data["recipients"] if r["header"].get("kid") == kid][:1] or [None]
    if entry is None or entry["header"].get("alg") != KEY_ALG:
        raise JoseFailure("algorithm-not-allowed", f"recipient alg must be {KEY_ALG}")
    flattened = {k: data[k] for k in ("protected", "iv", "ciphertext", "tag") if k in data}
    flattened.update(header=entry["header"], encrypted_key=entry.get("encrypted_key", ""))
    try:
        envelope = JWCryptoJWE()
        envelope.allowed_algs = [KEY_ALG, CONTENT_ENC]
        envelope.deserialize(json.dumps(flattened), key=_as_jwcrypto(key))
        plaintext = envelope.payload
    except (JWException, ValueError, TypeError, KeyError):
        raise JoseFailure("decryption-failed", "the envelope does not decrypt: tampered or not for this key") from None
    try:
        return plaintext.decode("ascii")
    except UnicodeDecodeError:
        raise JoseFailure("malformed-jws", "the decrypted content is not a JWS") from None


def _b64decode(segment: str) -> bytes:
    if not isinstance(segment, str):
        raise ValueError("not a string")
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
