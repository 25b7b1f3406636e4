"""Private keys, by key id, encrypted at rest.

Layout (see ``keys/README.md``): ``<data dir>/keys/<kid>.pem``, PKCS#8 PEM
encrypted under the node passphrase (``CMAA_KEY_PASSPHRASE``; in development a
random passphrase is generated into ``<data dir>/keys/.passphrase``), mode 0600.
Only public parts ever leave this module, as JWKs.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from joserfc.jwk import OKPKey

NODE_SIGNING = "node-sig"
PERSONAL_DATA_MASTER = "pd-master"
SYMMETRIC_MAGIC = b"cmaa-secret-1\n"
_KID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_GENERATORS = {"sig": Ed25519PrivateKey.generate, "enc": X25519PrivateKey.generate}


class KeyPassphraseError(ValueError):
    """The node passphrase does not open a key file (or the file was altered)."""


class KeyStore:
    def __init__(self, directory: Path, passphrase: str | None):
        from adapters.permissions import private_dir

        self.directory = directory
        private_dir(self.directory)
        self._given = bool(passphrase)  # CMAA_KEY_PASSPHRASE; else the generated one in .passphrase
        self._passphrase = (passphrase or self._development_passphrase()).encode()
        self._cache: dict[str, OKPKey] = {}
        self._secrets: dict[str, bytes] = {}

    def _development_passphrase(self) -> str:
        path = self.directory / ".passphrase"
        if not path.exists():
            _write_private(path, secrets.token_urlsafe(32).encode())
        return path.read_text().strip()

    def _path(self, kid: str) -> Path:
        if not _KID.match(kid):
            raise ValueError(f"invalid key id {kid!r}")
        return self.directory / f"{kid}.pem"

    def has(self, kid: str) -> bool:
        return kid in self._cache or self._path(kid).exists()

    def generate(self, kid: str, use: str) -> OKPKey:
        """Create and store a new key pair (``use``: ``sig`` Ed25519 or ``enc`` X25519)."""
        private = _GENERATORS[use]()
        pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.BestAvailableEncryption(self._passphrase))
        _write_private(self._path(kid), pem)  # if another process won the race, its key stands
        return self.private(kid)

    def private(self, kid: str) -> OKPKey:
        if kid not in self._cache:
            pem = self._path(kid).read_bytes()
            try:
                raw = serialization.load_pem_private_key(pem, password=self._passphrase)
            except (ValueError, TypeError):
                damaged = not pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
                raise self._unopened(self._path(kid), damaged) from None
            self._cache[kid] = OKPKey.import_key(raw, parameters={"kid": kid})
        return self._cache[kid]

    def node_signing_key(self) -> OKPKey:
        """The node's Ed25519 key, root of its signed directory; created on first use."""
        return self.private(NODE_SIGNING) if self.has(NODE_SIGNING) else self.generate(NODE_SIGNING, "sig")


    def symmetric(self, kid: str) -> bytes:
        """A 256-bit secret (e.g. the personal-data master key), created on first use.

        Stored as ``<kid>.key``: scrypt salt, nonce and the AES-256-GCM sealed key,
        under the node passphrase, mode 0600.
        """
        if kid in self._secrets:
            return self._secrets[kid]
        if not _KID.match(kid):
            raise ValueError(f"invalid key id {kid!r}")
        path = self.directory / f"{kid}.key"
        if not path.exists():
            salt, nonce, secret = secrets.token_bytes(16), secrets.token_bytes(12), secrets.token_bytes(32)
            sealed = AESGCM(self._kek(salt)).encrypt(nonce, secret, kid.encode())
            _write_private(path, SYMMETRIC_MAGIC + salt + nonce + sealed)
        blob = path.read_bytes()
        if not blob.startswith(SYMMETRIC_MAGIC):
            raise ValueError(f"{path} is not a cmaa secret key file")
        salt, nonce = blob[len(SYMMETRIC_MAGIC):len(SYMMETRIC_MAGIC) + 16], blob[len(SYMMETRIC_MAGIC) + 16:len(SYMMETRIC_MAGIC) + 28]
        try:
            secret = AESGCM(self._kek(salt)).decrypt(nonce, blob[len(SYMMETRIC_MAGIC) + 28:], kid.encode())
        except InvalidTag:
            raise self._unopened(path, damaged=False) from None
        self._secrets[kid] = secret
        return secret

    def _unopened(self, path: Path, damaged: bool) -> KeyPassphraseError:
        """What to say when a key file does not open: damaged, or another passphrase than the one in use."""
        restore = "restore the keys from a backup with `cmaa restore`"
        if damaged:
            return KeyPassphraseError(f"the key file {path} is damaged (not an encrypted private key): {restore}")
        if self._given:
            return KeyPassphraseError(f"CMAA_KEY_PASSPHRASE does not open {path}: set the passphrase the node keys "
                                      f"were made with; if the file was altered, {restore}")
        return KeyPassphraseError(f"the key file {path} does not open with this node's generated passphrase "
                                  f"({self.directory / '.passphrase'}): it was made under a passphrase (set "
                                  f"CMAA_KEY_PASSPHRASE to it), or it is damaged ({restore})")

    def _kek(self, salt: bytes) -> bytes:
        return Scrypt(salt=salt, length=32, n=2**14, r=8, p=1).derive(self._passphrase)


def public_jwk(key: OKPKey) -> dict:
    return key.as_dict(private=False)


def fingerprint(jwk: dict) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): what partners pin out of band."""
    return OKPKey.import_key({k: v for k, v in jwk.items() if k in ("kty", "crv", "x")}).thumbprint()


def _write_private(path: Path, data: bytes) -> bool:
    """Create ``path`` atomically with mode 0600; ``False`` if it already exists.

    Written to a temporary file and hard-linked into place, so that replicas
    starting together never read a half-written key and never overwrite one.
    """
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(temporary, path)
        return True
    except FileExistsError:
        return False
    finally:
        temporary.unlink(missing_ok=True)
