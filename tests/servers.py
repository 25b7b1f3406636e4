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
               CMAA_LOG_LEVEL="debug")  # the most verbose: the suite scans every line (tests/conftest.py)
    env.update(extra)
    return env


def cmaa(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "service.cli", *args], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


@contextmanager
def node_process(env: dict[str, str]):
    """Start ``cmaa serve`` and yield its base URL once it answers."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(port)], env=env,
                               stdout=log_file(port), stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"node exited with {process.returncode}")
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


def log_file(port: int):
    """Where a node process writes its (JSON) log: the suite scans them all at the end (tests/conftest.py)."""
    directory = Path(os.environ.get("CMAA_TEST_LOG_DIR", "/tmp/cmaa-test-logs"))
    directory.mkdir(parents=True, exist_ok=True)
    return open(directory / f"node-{port}-{time.time_ns()}.log", "w", encoding="utf-8")


class NodeProcess:
    """A `cmaa serve` process on a fixed port that a test can kill and restart."""

    def __init__(self, env: dict[str, str], port: int, verify=True):
        self.env, self.port = env, port
        scheme = "https" if env.get("CMAA_TLS_CERT") else "http"
        self.base = f"{scheme}://127.0.0.1:{port}"
        self.verify = verify  # an ssl.SSLContext for TLS nodes
        self.process: subprocess.Popen | None = None

    def start(self, **extra_env: str) -> "NodeProcess":
        env = {**self.env, **extra_env}
        self.log = log_file(self.port)
        self.process = subprocess.Popen([sys.executable, "-m", "service.cli", "serve", "--port", str(self.port)],
                                        env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"node on {self.port} exited with {self.process.returncode}")
            try:
                httpx.get(f"{self.base}/exchange/directory", timeout=1, verify=self.verify)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("node did not start in 30 s")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.kill()  # SIGKILL: no shutdown, no flush
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def children(pid: int) -> list[int]:
    """The live child processes of ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def cmdline(pid: int) -> bytes:
    """The command line of ``pid``; empty if it has ended meanwhile (one listed by :func:`children` may be
    reaped before it is read)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def tree(pid: int) -> list[int]:
    """``pid`` and every live process below it (Linux /proc)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children(current))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def two_administrations(tmp_path: Path, url_no: str, url_jp: str, *, via_cli: bool = False,
                        tls: dict | None = None, **extra: str):
    """Configure Norway and Japan, exchange signed directories; return
    (no process, jp process, no official token, jp official token).

    ``via_cli`` does it as an operator would, with `cmaa` commands (slower)."""
    port_no, port_jp = free_port(), free_port()
    scheme = "https" if tls else "http"
    extra = {"CMAA_COURIER_INTERVAL_SECONDS": "0.2", **extra}
    env_no = cli_env(tmp_path / "no", url_no, "NO", CMAA_PUBLIC_URL=f"{scheme}://127.0.0.1:{port_no}",
                     **extra, **(tls or {}).get("NO", {}))
    env_jp = cli_env(tmp_path / "jp", url_jp, "JP", CMAA_ADMINISTRATION_NAME="Japan Customs",
                     CMAA_PUBLIC_URL=f"{scheme}://127.0.0.1:{port_jp}", **extra, **(tls or {}).get("JP", {}))
    if not via_cli:
        return _configure_in_process(env_no, env_jp, port_no, port_jp)
    tokens = {}
    for env, official in ((env_no, "no-hansen"), (env_jp, "jp-tanaka")):
        for args in (("init",), ("officials", "add", official, "--name", official, "--role", "official")):
            result = cmaa(env, *args)
            assert result.returncode == 0, result.stderr
        tokens[official] = cmaa(env, "credentials", "issue", official).stdout.strip()
    for env, other_env, other in ((env_no, env_jp, "JP"), (env_jp, env_no, "NO")):
        name = "Japan Customs" if other == "JP" else "Norwegian Customs"
        assert cmaa(env, "partners", "add", other, "--name", name, "--agreement", "jp-no-2016").returncode == 0
        directory = tmp_path / f"{other}.directory.jws"
        assert cmaa(other_env, "keys", "export-directory", "--output", str(directory)).returncode == 0
        fingerprint = cmaa(other_env, "keys", "fingerprint").stdout.strip()
        imported = cmaa(env, "partners", "import-directory", other, str(directory), "--fingerprint", fingerprint)
        assert imported.returncode == 0, imported.stderr
    return NodeProcess(env_no, port_no), NodeProcess(env_jp, port_jp), tokens["no-hansen"], tokens["jp-tanaka"]


def _settings(env: dict[str, str]):
    from service.settings import Settings

    fields = {k.removeprefix("CMAA_").lower(): v for k, v in env.items() if k.startswith("CMAA_")}
    return Settings(**fields)


def _configure_in_process(env_no, env_jp, port_no, port_jp):
    from service.node import build_node, initialise

    nodes, tokens = {}, {}
    for env, official in ((env_no, "no-hansen"), (env_jp, "jp-tanaka")):
        node = build_node(_settings(env))
        initialise(node)
        node.designate_official(by="test", official_id=official, name=official, roles=["official"])
        tokens[official] = node.directory.issue_credential(by="test", official_id=official)
        nodes[node.settings.administration] = node
    for a, b in (("NO", "JP"), ("JP", "NO")):
        nodes[a].directory.register_partner(by="test", administration=b, name=nodes[b].settings.administration_name,
                                            agreements=["jp-no-2016"])
        nodes[a].exchange.import_directory(nodes[b].exchange.export_directory(), nodes[b].exchange.node_fingerprint(),
                                           "test")
    for node in nodes.values():
        node.close()
    return NodeProcess(env_no, port_no), NodeProcess(env_jp, port_jp), tokens["no-hansen"], tokens["jp-tanaka"]
