"""The compose example's setup, run without Docker (no engine on these machines).

deploy/make-secrets.sh makes the CA, certificates and secrets; two local nodes run with the node settings
of docker-compose.yml (production mode, mutual TLS, secrets from CMAA_*_FILE; SQLite instead of
PostgreSQL); the image's health check answers on the configured port; deploy/exchange-directories.sh
exchanges their signed directories with pinned fingerprints; then a case crosses between them over
mutual TLS.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import httpx
import yaml

from tests.factories import jp_no_request
from tests.servers import NodeProcess, cli_env, cmaa, free_port, wait_until
from tests.tls import client_context

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def compose_env(service: str, secrets: Path, data_dir: Path, port: int) -> dict[str, str]:
    """The service's environment from docker-compose.yml, its /run/secrets/ paths pointing at ``secrets``."""
    settings = {}
    for name, value in COMPOSE["services"][service]["environment"].items():
        value = str(value)
        if value.startswith("/run/secrets/"):
            value = str(secrets / Path(COMPOSE["secrets"][value.removeprefix("/run/secrets/")]["file"]).name)
        settings[name] = value
    del settings["CMAA_DATABASE_URL_FILE"]  # PostgreSQL in compose; SQLite here
    settings.update(CMAA_PORT=str(port), CMAA_HOST="127.0.0.1", CMAA_PUBLIC_URL=f"https://127.0.0.1:{port}",
                    CMAA_COURIER_INTERVAL_SECONDS="0.2")
    return cli_env(data_dir, f"sqlite:///{data_dir / 'cmaa.db'}", settings["CMAA_ADMINISTRATION"], **settings)


def cli_wrapper(path: Path, env: dict[str, str]) -> Path:
    """What `docker compose exec -T node-xx cmaa` is to the script: `cmaa` with that node's environment."""
    exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items() if k.startswith("CMAA_"))
    path.write_text(f"#!/usr/bin/env bash\n{exports}exec {shlex.quote(sys.executable)} -m service.cli \"$@\"\n")
    path.chmod(0o755)
    return path


def health(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "deploy" / "healthcheck.py")], env=env, capture_output=True,
                          text=True, timeout=20)


def test_the_compose_setup_on_two_local_nodes(tmp_path):
    secrets = tmp_path / "secrets"
    made = subprocess.run([str(ROOT / "deploy" / "make-secrets.sh"), str(secrets)], capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    assert secrets.stat().st_mode & 0o077 == 0 and (secrets / "ca.key").stat().st_mode & 0o077 == 0
    assert all((secrets / Path(s["file"]).name).is_file() for s in COMPOSE["secrets"].values())
    init = (ROOT / "docs" / "compose-init.sql").read_text()
    for admin in ("no", "jp"):  # each node's database URL names a database the compose's init creates
        url = (secrets / f"{admin}-database-url").read_text().strip()
        assert url.startswith("postgresql://postgres:") and f"CREATE DATABASE {url.rsplit('/', 1)[1]};" in init
    ports = {"NO": free_port(), "JP": free_port()}
    envs = {admin: compose_env(f"node-{admin.lower()}", secrets, tmp_path / admin.lower(), ports[admin])
            for admin in ports}
    assert all(env["CMAA_ENVIRONMENT"] == "production" for env in envs.values())
    for admin, official in (("NO", "no-hansen"), ("JP", "jp-tanaka")):
        for args in (("init",), ("officials", "add", official, "--name", official, "--role", "official")):
            result = cmaa(envs[admin], *args)
            assert result.returncode == 0, result.stderr
    operator = client_context(secrets / "ca.pem", secrets / "operator.pem", secrets / "operator.key")
    nodes = {admin: NodeProcess(env, ports[admin], verify=operator) for admin, env in envs.items()}
    try:
        for node in nodes.values():
            node.start()
        # the image's HEALTHCHECK: the configured port, over mutual TLS; another port fails
        assert health(envs["NO"]).returncode == 0, health(envs["NO"]).stderr
        assert health({**envs["NO"], "CMAA_PORT": str(free_port())}).returncode == 1

        script = {"NO_CMAA": str(cli_wrapper(tmp_path / "no-cmaa", envs["NO"])),
                  "JP_CMAA": str(cli_wrapper(tmp_path / "jp-cmaa", envs["JP"])),
                  "NO_URL": nodes["NO"].base, "JP_URL": nodes["JP"].base, "TLS_DIR": str(secrets),
                  "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"}
        for _ in range(2):  # a second run finds the partners registered, and imports again
            exchanged = subprocess.run([str(ROOT / "deploy" / "exchange-directories.sh")], env=script,
                                       capture_output=True, text=True, timeout=180)
            assert exchanged.returncode == 0, exchanged.stdout + exchanged.stderr
            assert "JP imported NO's signed directory" in exchanged.stdout, exchanged.stdout
        for admin, other in (("NO", "JP"), ("JP", "NO")):
            listing = cmaa(envs[admin], "partners", "list").stdout
            row = next(line.split() for line in listing.splitlines() if line.startswith(f"{other} "))
            assert nodes[other].base in row, listing  # the endpoint, then the directory held (its issued_at)
            assert row[row.index(nodes[other].base) + 1] != "no", listing

        token = cmaa(envs["NO"], "credentials", "issue", "no-hansen").stdout.strip()
        with httpx.Client(verify=operator, headers={"Authorization": f"Bearer {token}"}) as client:
            case = client.post(f"{nodes['NO'].base}/cases", json=jp_no_request())
            assert case.status_code == 201, case.text
            wait_until(lambda: "EnvelopeDelivered" in [e["event"] for e in client.get(
                f"{nodes['NO'].base}/cases/{case.json()['id']}/history").json()["data"]], timeout=60)
    finally:
        for node in nodes.values():
            node.stop()
