"""Witness cosignatures in the C2SP ``tlog-cosignature`` format (https://c2sp.org/tlog-cosignature),
Ed25519, ``cosignature/v1``.

A cosignature is one more signature line on a checkpoint note
(https://c2sp.org/signed-note)::

    — <witness name> base64(key ID || timestamp || signature)

* key ID = SHA-256(<name> || 0x0A || 0x04 || 32-byte Ed25519 public key)[:4] (signature type 0x04);
* timestamp = the cosigning time, POSIX seconds, u64 big-endian;
* signature = Ed25519 over ``"cosignature/v1\\n" "time <timestamp>\\n"`` followed by the note body
  (the checkpoint's lines with their final LF, no signature lines).

Before issue 16 a witness signed the note body itself, as a plain signed-note line (type 0x01,
no timestamp). Such cosignatures are kept in stored histories and bundles, so
:func:`verify_cosignature` still accepts them, and says which form it found.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

EM_DASH = "\u2014"
COSIGNATURE_V1 = 0x04
LEGACY_NOTE = 0x01
MAX_TIMESTAMP = 2**63 - 1


def key_id(name: str, public: Ed25519PublicKey, signature_type: int) -> bytes:
    raw = public.public_bytes_raw()
    return hashlib.sha256(name.encode() + b"\n" + bytes([signature_type]) + raw).digest()[:4]


def note_body(note: str) -> str:
    """The signed text of a note: everything before the blank line, with its final LF."""
    body, separator, _ = note.partition("\n\n")
    if not separator:
        raise ValueError("not a signed note")
    return body + "\n"


def signed_message(body: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + body.encode()


def cosign(note: str, witness: str, key: Ed25519PrivateKey, timestamp: int) -> str:
    """``note`` with the witness's ``cosignature/v1`` line added."""
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise ValueError("cosignature timestamp out of range")
    body = note_body(note)
    blob = key_id(witness, key.public_key(), COSIGNATURE_V1) + timestamp.to_bytes(8, "big") + \
        key.sign(signed_message(body, timestamp))
    return f"{note.rstrip(chr(10))}\n{EM_DASH} {witness} {base64.b64encode(blob).decode()}\n"


def verify_cosignature(note: str, witness: str, public: Ed25519PublicKey,
                       log_origin: str) -> tuple[int, bytes, int | None]:
    """Verify ``witness``'s cosignature on a checkpoint of ``log_origin``; return
    ``(size, root, timestamp)`` — the timestamp ``None`` for the legacy (pre-C2SP) form.
    Lines of other signers, and of other keys under the same name, are skipped.
    Raises ``ValueError``."""
    body = note_body(note)
    lines = body.split("\n")
    if len(lines) < 4 or lines[0] != log_origin:
        raise ValueError(f"checkpoint origin is not {log_origin!r}")
    size, root = int(lines[1]), base64.b64decode(lines[2], validate=True)
    v1, legacy = key_id(witness, public, COSIGNATURE_V1), key_id(witness, public, LEGACY_NOTE)
    for line in note.partition("\n\n")[2].splitlines():
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != EM_DASH or parts[1] != witness:
            continue
        blob = base64.b64decode(parts[2], validate=True)
        try:
            if blob[:4] == v1 and len(blob) == 4 + 8 + 64:
                timestamp = int.from_bytes(blob[4:12], "big")
                if timestamp > MAX_TIMESTAMP:
                    raise ValueError("cosignature timestamp out of range")
                public.verify(blob[12:], signed_message(body, timestamp))
                return size, root, timestamp
            if blob[:4] == legacy and len(blob) == 4 + 64:
                public.verify(blob[4:], body.encode())
                return size, root, None
        except InvalidSignature:
            raise ValueError(f"the cosignature by {witness} does not verify") from None
    raise ValueError(f"no cosignature by {witness}'s key")
