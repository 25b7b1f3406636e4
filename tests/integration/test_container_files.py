"""The Dockerfile and docker-compose.yml (no Docker engine here: checked as files)."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_image_runs_as_a_non_root_user_with_a_health_check_on_healthz():
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    health = next(i for i, line in enumerate(lines) if line.startswith("HEALTHCHECK"))
    assert "/healthz" in " ".join(lines[health:health + 3])
    assert lines[-1].startswith("CMD") and "serve" in lines[-1]


def test_compose_runs_two_nodes_on_postgresql():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "node-no", "node-jp"} <= set(services)
    urls = {name: services[name]["environment"]["CMAA_DATABASE_URL"] for name in ("node-no", "node-jp")}
    assert all(url.startswith("postgresql://") for url in urls.values()) and urls["node-no"] != urls["node-jp"]
    init = (ROOT / "docs" / "compose-init.sql").read_text()
    assert all(url.rsplit("/", 1)[1] in init for url in urls.values())
    for name in ("node-no", "node-jp"):
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_the_image_is_pinned_and_its_pg_dump_matches_the_compose_postgresql():
    import re

    dockerfile = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", dockerfile, re.M).group(1)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), base
    client = re.search(r"postgresql-client-(\d+)", dockerfile).group(1)
    server = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["postgres"]["image"]
    assert re.fullmatch(r"postgres:\d+\.\d+", server) and server.split(":")[1].split(".")[0] == client
    assert "--require-hashes -r requirements.lock" in dockerfile


def test_the_health_check_follows_the_configured_port_and_scheme():
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    health = next(i for i, line in enumerate(lines) if line.startswith("HEALTHCHECK"))
    command = " ".join(lines[health:health + 2])
    assert "CMAA_PORT" in command and "CMAA_TLS_CERT" in command and ":8600/" not in command
