"""Real node processes for end-to-end tests: ``cmaa serve`` under uvicorn."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli_env(data_dir: Path, database_url: str, administration: str = "NO", **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CMAA_")}
    env.update(CMAA_DATA_DIR=str(data_dir), CMAA_DATABASE_URL=database_url, CMAA_ADMINISTRATION=administration,
               CMAA_LOG_LEVEL="warning", **extra)
    return env


def cmaa(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "service.cli", *args], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


@contextmanager
def node_process(env: dict[str, str]):
    """Start ``cmaa serve`` and yield its base URL once it answers."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"node exited: {process.stdout.read()}")
            try:
                httpx.get(f"{base}/agreements", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise RuntimeError("node did not start in 30 s")
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
