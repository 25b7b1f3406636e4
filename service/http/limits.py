"""Reject oversized request bodies before they are read into memory."""

from __future__ import annotations

import hashlib
import json
from typing import Callable

from starlette.exceptions import HTTPException


class BodySizeLimit:
    """Pure ASGI middleware: 413 problem+json past ``max_bytes`` (declared or streamed)."""

    def __init__(self, app, max_bytes: int,
                 explain: Callable[[str, str, int | None, int], dict | None] | None = None):
        self.app = app
        self.max_bytes = max_bytes
        # ``explain(path, sha256 of the bytes read, declared length, limit)``: extra problem members for a path
        # whose refusals are signed (the inbox: docs/envelope-format.md §3.3), or None.
        self.explain = explain

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            length = int(declared) if declared.isdigit() else None
            return await self._too_large(scope, send, hashlib.sha256(), length)
        seen = 0
        digest = hashlib.sha256()  # of what was read, for a signed refusal
        response_started = False

        exceeded = False

        async def limited_receive():
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                seen += len(chunk)
                digest.update(chunk)
                if seen > self.max_bytes:
                    exceeded = True
                    raise _TooLarge(self.max_bytes)
            return message

        async def tracking_send(message):
            nonlocal response_started
            if exceeded:  # the app answered the _TooLarge it caught (FastAPI wraps body errors): answer ours
                if message["type"] == "http.response.start" and not response_started:
                    response_started = True
                    await self._too_large(scope, send, digest, None)
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not response_started:
                await self._too_large(scope, send, digest, None)

    async def _too_large(self, scope, send, digest, declared: int | None):
        problem = {
            "type": "urn:cmaa:problem:http-413",
            "title": "Request body too large",
            "status": 413,
            "detail": f"the body exceeds {self.max_bytes} bytes (CMAA_MAX_BODY_BYTES)",
            "instance": scope.get("path", ""),
        }
        if self.explain is not None:
            problem.update(self.explain(scope.get("path", ""), digest.hexdigest(), declared, self.max_bytes) or {})
        body = json.dumps(problem).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/problem+json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(HTTPException):
    """Raised inside the app while it reads the body; answered as a 413 problem."""

    def __init__(self, max_bytes: int):
        super().__init__(413, f"the body exceeds {max_bytes} bytes (CMAA_MAX_BODY_BYTES)")
