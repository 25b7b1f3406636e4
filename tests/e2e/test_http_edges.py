"""The HTTP server's own edges on a real `cmaa serve` process: problem+json below the app,
slow clients timed out, a bound on connections that still lets health checks through."""

from __future__ import annotations

import json
import socket

import httpx

from tests.servers import cli_env, cmaa, node_process


def _node_env(tmp_path, **extra):
    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'cmaa.db'}", CMAA_LOG_LEVEL="warning", **extra)
    assert cmaa(env, "init").returncode == 0
    return env


def _connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=30)


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def test_a_raw_non_ascii_path_is_a_400_problem_not_plain_text(tmp_path):
    with node_process(_node_env(tmp_path)) as base:
        with _connect(base) as sock:
            sock.sendall("GET /cases/üñ😀 HTTP/1.1\r\nHost: node\r\n\r\n".encode())
            status, headers, body = _read_response(sock)
    assert status == 400
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["type"] == "urn:cmaa:problem:bad-http-request"


def test_more_slow_clients_than_the_bound_get_503_while_health_checks_are_answered(tmp_path):
    env = _node_env(tmp_path, CMAA_MAX_CONNECTIONS="20", CMAA_HEADER_TIMEOUT_SECONDS="120")
    with node_process(env) as base:
        slow = []
        try:
            for _ in range(40):  # twice the bound; none of them ever finishes its headers
                sock = _connect(base)
                sock.sendall(b"GET /cases HTTP/1.1\r\nHost: node\r\n")
                slow.append(sock)
            assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
            assert httpx.get(f"{base}/readyz", timeout=10).status_code == 200
            shed = httpx.get(f"{base}/agreements", timeout=10)
            assert shed.status_code == 503
            assert shed.headers["content-type"] == "application/problem+json"
            assert shed.headers["retry-after"] == "1"
            assert shed.json()["type"] == "urn:cmaa:problem:over-capacity"
        finally:
            for sock in slow:
                sock.close()


def test_a_client_that_never_finishes_its_headers_is_answered_408_and_closed(tmp_path):
    with node_process(_node_env(tmp_path, CMAA_HEADER_TIMEOUT_SECONDS="1")) as base:
        with _connect(base) as sock:
            sock.sendall(b"POST /cases HTTP/1.1\r\nHost: node\r\nContent-Type: appl")
            status, headers, body = _read_response(sock)  # returns only once the node closes it
        with _connect(base) as idle:  # a connection that sends nothing at all
            idle_status, _, _ = _read_response(idle)
        assert httpx.get(f"{base}/healthz").status_code == 200
    assert status == 408 and idle_status == 408
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["type"] == "urn:cmaa:problem:request-timeout"
