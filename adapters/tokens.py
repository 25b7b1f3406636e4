"""Bearer credentials: ``cmaa.<token id>.<secret>``.

The secret is 256 random bits, so a single SHA-256 digest is a sufficient
verifier (no password-stretching is needed for machine-generated secrets);
comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

PREFIX = "cmaa"


def new_token() -> tuple[str, str, str]:
    """Return ``(token_id, secret_digest, token)``; the token is shown once."""
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    return token_id, digest(secret), f"{PREFIX}.{token_id}.{secret}"


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def parse(token: str) -> tuple[str, str] | None:
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def matches(secret: str, expected_digest: str) -> bool:
    return hmac.compare_digest(digest(secret), expected_digest)
