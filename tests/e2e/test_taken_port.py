"""A port another program listens on: `cmaa serve` and `cmaa demo` say so in one line and stop at once,
having made nothing (outside tester: the demo waited for ever, and serve opened the node, started its
courier and then stopped with uvicorn's log lines)."""

from __future__ import annotations

import os
import socket

import pytest

from tests.servers import cmaa, free_port


@pytest.fixture
def taken():
    """A port held by another program, listening, whose port below is free."""
    for _ in range(50):
        below = free_port()
        holder = socket.socket()
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            holder.bind(("127.0.0.1", below + 1))
        except OSError:
            holder.close()
            continue
        holder.listen()
        yield below + 1
        holder.close()
        return
    raise AssertionError("no two neighbouring ports found free")


def env_for(tmp_path) -> dict[str, str]:
    return {**os.environ, "CMAA_DATA_DIR": str(tmp_path / "data"), "CMAA_LOG_LEVEL": "info"}


def test_serve_on_a_taken_port_says_so_in_one_line_and_makes_nothing(tmp_path, taken):
    result = cmaa(env_for(tmp_path), "serve", "--port", str(taken))  # times out (fails) if it hangs
    assert result.returncode == 1, result.stderr
    assert result.stderr.splitlines() == [f"error: cannot listen on 127.0.0.1:{taken}: in use by another program "
                                          "(perhaps another node); stop it, or choose another port with --port or "
                                          "CMAA_PORT"]
    assert not (tmp_path / "data").exists()  # no node created, no store opened


@pytest.mark.parametrize("which", ["first", "second"])
def test_the_demo_on_a_taken_port_says_so_in_one_line_and_stops(tmp_path, taken, which):
    base = taken if which == "first" else taken - 1
    result = cmaa(env_for(tmp_path), "demo", "--base-port", str(base))  # times out (fails) if it hangs
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.stderr.splitlines() == [f"error: cannot listen on 127.0.0.1:{taken}: in use by another program "
                                          "(perhaps another node); stop it, or choose other ports with --base-port "
                                          "(0 picks free ones)"]
