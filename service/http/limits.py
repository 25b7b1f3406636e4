"""Reject oversized request bodies before they are read into memory."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException


class BodySizeLimit:
    """Pure ASGI middleware: 413 problem+json past ``max_bytes`` (declared or streamed)."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            return await self._too_large(scope, send)
        seen = 0
        response_started = False

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge(self.max_bytes)
            return message

        async def tracking_send(message):
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not response_started:
                await self._too_large(scope, send)

    async def _too_large(self, scope, send):
        body = json.dumps({
            "type": "urn:cmaa:problem:http-413",
            "title": "Request body too large",
            "status": 413,
            "detail": f"the body exceeds {self.max_bytes} bytes (CMAA_MAX_BODY_BYTES)",
            "instance": scope.get("path", ""),
        }).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/problem+json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(HTTPException):
    """Raised inside the app while it reads the body; answered as a 413 problem."""

    def __init__(self, max_bytes: int):
        super().__init__(413, f"the body exceeds {max_bytes} bytes (CMAA_MAX_BODY_BYTES)")
