"""A TCP proxy that a test can cut and restore: in front of PostgreSQL, it plays the network
and the data centre failing (connections refused, reset, or silently blackholed)."""

from __future__ import annotations

import socket
import struct
import threading

MODES = ("up", "refused", "reset", "blackholed")


class TcpProxy:
    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.mode = "up"
        self.lock = threading.Lock()
        self.pairs: list[tuple[socket.socket, socket.socket | None]] = []
        self.listener: socket.socket | None = None
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._listen()

    # -- control ------------------------------------------------------------------------
    def cut(self, mode: str) -> None:
        """``refused``: nothing listens; ``reset``: every connection, open or new, is reset;
        ``blackholed``: connections are accepted and open ones kept, but no byte goes through."""
        assert mode in MODES[1:]
        with self.lock:
            self.mode = mode
        if mode in ("refused", "reset"):
            self._reset_all()
        if mode == "refused":
            self.listener.close()

    def restore(self) -> None:
        with self.lock:
            previous, self.mode = self.mode, "up"
        if previous == "blackholed":
            self._reset_all()  # what was swallowed cannot be replayed: those connections are dead
        if previous == "refused":
            self._listen()

    def close(self) -> None:
        self.mode = "closed"
        if self.listener:
            self.listener.close()
        self._reset_all()

    # -- plumbing -------------------------------------------------------------------------
    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed
            if self.mode == "reset":
                _reset(client)
                continue
            upstream = None
            if self.mode == "up":
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                    upstream.settimeout(None)
                except OSError:
                    _reset(client)
                    continue
            with self.lock:
                self.pairs.append((client, upstream))
            if upstream is not None:
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pump, args=(a, b), daemon=True).start()
            # blackholed: the client is accepted and hears nothing, until restore() resets it

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                _reset(sink)
                _reset(source)
                return
            if self.mode == "blackholed":
                continue  # swallowed
            try:
                sink.sendall(data)
            except OSError:
                _reset(source)
                return

    def _reset_all(self) -> None:
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for client, upstream in pairs:
            _reset(client)
            if upstream is not None:
                _reset(upstream)


def _reset(sock: socket.socket) -> None:
    """Close with RST, not FIN (SO_LINGER 0): what a crashed peer or a firewall sends."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # Wake a pump thread blocked in recv() on it: until that returns, Linux keeps the socket
        # open however often it is closed, and sends nothing.
        sock.shutdown(socket.SHUT_RD)
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass
