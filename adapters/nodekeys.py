"""The node's own key pairs, generated on first run.

Ed25519 for signing, X25519 for encryption (used by the envelope exchange).
Private keys are PKCS#8 PEM, encrypted under ``CMAA_KEY_PASSPHRASE`` when it is
set, written with mode 0600 under ``<data dir>/keys``; they are never committed
(see ``keys/README.md``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey


@dataclass(frozen=True)
class NodeKeys:
    signing: Ed25519PrivateKey
    encryption: X25519PrivateKey

    def public_pem(self) -> dict[str, str]:
        def pem(key) -> str:
            return key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ).decode()

        return {"signing": pem(self.signing), "encryption": pem(self.encryption)}


def load_or_create(directory: Path, passphrase: str | None) -> tuple[NodeKeys, bool]:
    """Load the node keys, creating them on first run; return ``(keys, created)``."""
    directory.mkdir(parents=True, exist_ok=True)
    signing_path, encryption_path = directory / "node-signing.pem", directory / "node-encryption.pem"
    if signing_path.exists() and encryption_path.exists():
        return NodeKeys(_read(signing_path, passphrase), _read(encryption_path, passphrase)), False
    keys = NodeKeys(Ed25519PrivateKey.generate(), X25519PrivateKey.generate())
    _write(signing_path, keys.signing, passphrase)
    _write(encryption_path, keys.encryption, passphrase)
    return keys, True


def _read(path: Path, passphrase: str | None):
    password = passphrase.encode() if passphrase else None
    return serialization.load_pem_private_key(path.read_bytes(), password=password)


def _write(path: Path, key, passphrase: str | None) -> None:
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
