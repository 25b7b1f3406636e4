"""Console sessions: held on the server, named by an opaque cookie, each with its CSRF token."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field

IDLE_SECONDS = 30 * 60  # a session unused for this long is gone
ABSOLUTE_SECONDS = 8 * 3600  # and none lives longer than a working day
COOKIE = "cmaa_console"
SIGN_IN_COOKIE = "cmaa_console_signin"  # the sign-in form's double-submit CSRF value (no session yet)


@dataclass
class Session:
    id: str
    token: str  # the official's bearer credential: stays on the server, never in the cookie
    official_id: str
    csrf: str
    created: float
    seen: float
    purposes: dict[str, str] = field(default_factory=dict)  # case id -> the purpose the official gave
    flash: list[str] = field(default_factory=list)

    def expired(self, now: float) -> bool:
        return now - self.seen > IDLE_SECONDS or now - self.created > ABSOLUTE_SECONDS


class Sessions:
    """In the node process's memory: a restart signs everyone out (by design, nothing to leak at rest)."""

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def create(self, token: str, official_id: str) -> Session:
        now = time.monotonic()
        session = Session(secrets.token_urlsafe(32), token, official_id, secrets.token_urlsafe(32), now, now)
        with self._lock:
            self._sessions = {k: s for k, s in self._sessions.items() if not s.expired(now)}
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> Session | None:
        if not session_id:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if session.expired(now):
                del self._sessions[session_id]
                return None
            session.seen = now
            return session

    def from_cookie_header(self, raw: bytes) -> Session | None:
        """The live session a raw ``Cookie`` header names (for middleware that runs before the page)."""
        for part in raw.decode("latin-1").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE:
                return self.get(value)
        return None

    def drop(self, session_id: str | None) -> None:
        with self._lock:
            self._sessions.pop(session_id or "", None)
