"""The HTTP server's own edges: what uvicorn answers before (or instead of) the app.

uvicorn's h11 protocol, with three changes:

* a request it cannot parse (a raw non-ASCII path, a malformed request line or header,
  headers past the size bound) is answered ``400`` as RFC 9457 problem+json, like every
  error of the app, instead of uvicorn's ``text/plain``;
* a connection whose request head is not complete ``CMAA_HEADER_TIMEOUT_SECONDS`` after
  it began (a slow or stalled client, "slowloris") is answered ``408`` and closed; idle
  kept-alive connections are closed by uvicorn's keep-alive timeout (5 s);
* past ``CMAA_MAX_CONNECTIONS`` open connections, a new connection's requests are answered
  ``503`` problem+json with ``Retry-After`` and the connection is closed, except the health
  checks (``/healthz``, ``/readyz``), which are answered on the event loop and stay cheap:
  a load balancer keeps seeing the truth while the node sheds load.
"""

from __future__ import annotations

import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEALTH_PATHS = ("/healthz", "/readyz")


def problem_body(status: int, code: str, title: str, detail: str, instance: str = "") -> bytes:
    return json.dumps({"type": f"urn:cmaa:problem:{code}", "title": title, "status": status, "detail": detail,
                       "instance": instance}).encode()


def _head(status: int, reason: str, body: bytes, *extra: tuple[bytes, bytes]) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", b"application/problem+json"), (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"), *extra]


def _over_capacity(app, bound: int):
    async def shed(scope, receive, send):
        if scope["type"] != "http" or scope["path"] in HEALTH_PATHS:
            return await app(scope, receive, send)
        body = problem_body(503, "over-capacity", "Too many connections",
                            f"the node holds its bound of {bound} open connections (CMAA_MAX_CONNECTIONS); "
                            "nothing was done, retry", scope["path"])
        await send({"type": "http.response.start", "status": 503,
                    "headers": _head(503, "Service Unavailable", body, (b"retry-after", b"1"))})
        await send({"type": "http.response.body", "body": body})
    return shed


class NodeProtocol(H11Protocol):
    header_timeout: float = 5.0
    max_connections: int = 500

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer = None
        if len(self.connections) > self.max_connections:
            self.app = _over_capacity(self.app, self.max_connections)
        self._watch_head()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch_head()

    def connection_lost(self, exc) -> None:
        self._stop_watching()
        super().connection_lost(exc)

    def _watch_head(self) -> None:
        """Time the request head while one is awaited and not yet complete."""
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            if self._header_timer is None:
                self._header_timer = self.loop.call_later(self.header_timeout, self._head_timed_out)
        else:
            self._stop_watching()

    def _stop_watching(self) -> None:
        if getattr(self, "_header_timer", None) is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _head_timed_out(self) -> None:
        self._header_timer = None
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a response is still being written
        if self.conn.our_state is h11.IDLE and self.cycle is None:
            body = problem_body(408, "request-timeout", "Request timeout", "the request head was not complete "
                                f"within {self.header_timeout:g} s (CMAA_HEADER_TIMEOUT_SECONDS)")
            head = b"".join(k + b": " + v + b"\r\n" for k, v in _head(408, "Request Timeout", body))
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\n" + head + b"\r\n" + body)
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        body = problem_body(400, "bad-http-request", "Malformed HTTP request",
                            "the request could not be parsed as HTTP/1.1 (request line, target or headers); "
                            "targets are ASCII, with other characters percent-encoded (RFC 3986)")
        try:
            self.transport.write(self.conn.send(h11.Response(status_code=400, headers=_head(400, "", body),
                                                             reason=b"Bad Request")))
            self.transport.write(self.conn.send(h11.Data(data=body)))
            self.transport.write(self.conn.send(h11.EndOfMessage()))
        except h11.LocalProtocolError:
            pass  # h11 cannot frame a response in this state: close without one
        self.transport.close()


def protocol_for(settings) -> type[NodeProtocol]:
    """The protocol class with this node's bounds (uvicorn builds one instance per connection)."""
    return type("NodeProtocol", (NodeProtocol,), {"header_timeout": settings.header_timeout_seconds,
                                                  "max_connections": settings.max_connections})


class PortTaken(OSError):
    """A listening address another program holds: said in one line with what to do, before anything starts."""


def refuse_taken_port(host: str, port: int, hint: str) -> None:
    """Bind ``host:port`` as the server will (``SO_REUSEADDR``, as uvicorn) and let it go; raise :class:`PortTaken`
    if that fails, so that a node does not open its store, start its courier and then stop with the server's
    log lines (``hint``: which option chooses another port)."""
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            reason = "in use by another program (perhaps another node)" if error.errno == errno.EADDRINUSE \
                else (error.strerror or str(error)).lower()
            raise PortTaken(error.errno, f"cannot listen on {host}:{port}: {reason}; {hint}") from None
