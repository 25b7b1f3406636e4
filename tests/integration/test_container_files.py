"""The Dockerfile and docker-compose.yml, checked as files: no Docker engine runs on these machines.

tests/e2e/test_compose_setup.py runs what can run without one: deploy/make-secrets.sh, the compose file's
node settings on two local nodes, the image's health check and deploy/exchange-directories.sh.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_the_image_runs_as_a_non_root_user_with_a_health_check_on_healthz():
    lines = [line.strip() for line in (ROOT / "Dockerfile").read_text().splitlines()]
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")
    assert any(line.startswith("HEALTHCHECK") for line in lines)
    assert '/healthz"' in (ROOT / "deploy" / "healthcheck.py").read_text()  # liveness, not readiness
    assert lines[-1].startswith("CMD") and "serve" in lines[-1]


def test_compose_runs_two_nodes_on_postgresql():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "node-no", "node-jp"} <= set(services)
    urls = {name: services[name]["environment"]["CMAA_DATABASE_URL_FILE"] for name in ("node-no", "node-jp")}
    assert urls["node-no"] != urls["node-jp"]  # each node its own database (deploy/make-secrets.sh writes them)
    init = (ROOT / "docs" / "compose-init.sql").read_text()
    assert "CREATE DATABASE cmaa_no;" in init and "CREATE DATABASE cmaa_jp;" in init
    for name in ("node-no", "node-jp"):
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


NODES = ("node-no", "node-jp")
SECRET_SETTINGS = ("CMAA_DATABASE_URL", "CMAA_KEY_PASSPHRASE", "CMAA_BACKUP_PASSPHRASE")


def test_compose_takes_every_secret_from_a_file():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = {name: compose["services"][name] for name in ("postgres", *NODES)}
    assert "POSTGRES_PASSWORD" not in services["postgres"]["environment"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres-password"
    for name, service in services.items():
        environment = {k: str(v) for k, v in service["environment"].items()}
        assert not set(SECRET_SETTINGS) & set(environment), name  # never the secret itself
        for setting in ("CMAA_DATABASE_URL_FILE", "CMAA_KEY_PASSPHRASE_FILE") if name in NODES else ():
            assert setting in environment, (name, setting)
        for setting, value in environment.items():
            assert "password" not in value.lower() or value.startswith("/run/secrets/"), (name, setting)
            if value.startswith("/run/secrets/"):
                secret = value.removeprefix("/run/secrets/")
                assert secret in service["secrets"], (name, secret)  # mounted into this service
                assert compose["secrets"][secret]["file"].startswith("./deploy/secrets/"), secret
    assert "deploy/secrets/" in (ROOT / ".gitignore").read_text().splitlines()


def test_compose_nodes_speak_mutual_tls_in_production_mode_on_their_configured_port():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    make_secrets = (ROOT / "deploy" / "make-secrets.sh").read_text()
    for name in NODES:
        environment = {k: str(v) for k, v in compose["services"][name]["environment"].items()}
        assert environment["CMAA_ENVIRONMENT"] == "production"
        for setting in ("CMAA_TLS_CERT", "CMAA_TLS_KEY", "CMAA_TLS_CA"):  # CA set: partners must present one
            assert environment[setting].startswith("/run/secrets/"), setting
        port = environment["CMAA_PORT"]
        assert environment["CMAA_PUBLIC_URL"] == f"https://{name}:{port}"  # the name the certificate carries
        assert all(mapping.endswith(f":{port}") for mapping in compose["services"][name]["ports"])
        assert name in re.search(r"for name in ([^;]+);", make_secrets).group(1)
    assert "subjectAltName=DNS:$name" in make_secrets


def test_the_image_is_pinned_and_its_pg_dump_matches_the_compose_postgresql():
    dockerfile = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^FROM (\S+)", dockerfile, re.M).group(1)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), base
    client = re.search(r"postgresql-client-(\d+)", dockerfile).group(1)
    server = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["postgres"]["image"]
    assert re.fullmatch(r"postgres:\d+\.\d+", server) and server.split(":")[1].split(".")[0] == client
    assert "--require-hashes -r requirements.lock" in dockerfile


def test_the_health_check_follows_the_configured_port_and_scheme():
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    health = next(line for line in lines if line.startswith("HEALTHCHECK"))
    script = re.search(r'CMD \["python", "(\S+)"\]', health).group(1)
    assert f"COPY deploy/healthcheck.py {script}" in lines  # run against a live TLS node in test_compose_setup
    check = (ROOT / "deploy" / "healthcheck.py").read_text()
    assert 'os.environ.get("CMAA_PORT"' in check and 'os.environ.get("CMAA_TLS_CERT")' in check
    assert ":8600/" not in check and "load_cert_chain" in check
