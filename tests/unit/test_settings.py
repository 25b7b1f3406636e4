"""Start-up configuration: every setting validated, production refuses development defaults."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.settings import Settings
from tests.servers import cli_env, cmaa


@pytest.fixture
def tls_files(tmp_path):
    cert, key = tmp_path / "node.pem", tmp_path / "node.key"
    cert.write_text("certificate")
    key.write_text("key")
    return {"tls_cert": cert, "tls_key": key}


def production(tmp_path, **overrides):
    return Settings(data_dir=tmp_path / "data", environment="production", **overrides)


def test_a_complete_production_configuration_is_accepted(tmp_path, tls_files):
    settings = production(tmp_path, key_passphrase="k3y-passphrase-from-a-vault", public_url="https://no.example",
                          **tls_files)
    assert settings.production_problems() == []


@pytest.mark.parametrize("overrides, named", [
    ({"key_passphrase": None}, "CMAA_KEY_PASSPHRASE"),
    ({"key_passphrase": "changeme"}, "CMAA_KEY_PASSPHRASE is a default"),
    ({"key_passphrase": "short-one"}, "shorter than 16"),
    ({"tls_cert": None, "tls_key": None}, "no plain HTTP between nodes"),
    ({"public_url": "http://no.example"}, "CMAA_PUBLIC_URL must be an https:// URL"),
    ({"unsafe_fault_exit_after_inbox_store": True}, "CMAA_UNSAFE_FAULT_EXIT_AFTER_INBOX_STORE"),
    ({"backup_passphrase": "password"}, "CMAA_BACKUP_PASSPHRASE"),
])
def test_production_refuses_each_development_default_naming_the_setting(tmp_path, tls_files, overrides, named):
    values = {"key_passphrase": "k3y-passphrase-from-a-vault", "public_url": "https://no.example", **tls_files,
              **overrides}
    with pytest.raises(ValidationError) as error:
        production(tmp_path, **values)
    assert named in str(error.value)


def test_production_refuses_keys_made_in_development_mode(tmp_path, tls_files):
    keys = tmp_path / "data" / "keys"
    keys.mkdir(parents=True)
    (keys / ".passphrase").write_text("generated")
    with pytest.raises(ValidationError) as error:
        production(tmp_path, key_passphrase="k3y-passphrase-from-a-vault", **tls_files)
    assert "made in development mode" in str(error.value)


def test_a_missing_certificate_file_is_named(tmp_path):
    with pytest.raises(ValidationError) as error:
        Settings(data_dir=tmp_path, tls_cert=tmp_path / "absent.pem", tls_key=tmp_path / "absent.key")
    assert "CMAA_TLS_CERT: no file at" in str(error.value)


@pytest.mark.parametrize("name, value, named", [
    ("CMAA_PORT", "99999", "CMAA_PORT"),
    ("CMAA_ADMINISTRATION", "Norway", "CMAA_ADMINISTRATION"),
    ("CMAA_RATE_LIMIT_PARTNER", "fast", "CMAA_RATE_LIMIT_PARTNER"),
    ("CMAA_ENVIRONMENT", "staging", "CMAA_ENVIRONMENT"),
    ("CMAA_DATABASE_URL", "mysql://x/y", "CMAA_DATABASE_URL"),
])
def test_serve_with_a_bad_setting_exits_with_a_message_not_a_traceback(tmp_path, name, value, named):
    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'cmaa.db'}", **{name: value})
    result = cmaa(env, "serve")
    assert result.returncode == 2
    assert "configuration error" in result.stderr and named in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_secret_can_come_from_a_file_named_by_a_FILE_variable(tmp_path, monkeypatch):
    secret = tmp_path / "passphrase"
    secret.write_text("a-passphrase-from-a-docker-secret\n")
    monkeypatch.setenv("CMAA_KEY_PASSPHRASE_FILE", str(secret))
    monkeypatch.delenv("CMAA_KEY_PASSPHRASE", raising=False)
    assert Settings(data_dir=tmp_path).key_passphrase == "a-passphrase-from-a-docker-secret"
    monkeypatch.setenv("CMAA_KEY_PASSPHRASE", "set-directly-wins-over-the-file")
    assert Settings(data_dir=tmp_path).key_passphrase == "set-directly-wins-over-the-file"


def test_an_unreadable_secret_file_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("CMAA_DATABASE_URL_FILE", str(tmp_path / "absent"))
    monkeypatch.delenv("CMAA_DATABASE_URL", raising=False)
    with pytest.raises(ValueError, match="CMAA_DATABASE_URL_FILE: cannot read"):
        Settings(data_dir=tmp_path)


def test_every_setting_has_a_row_in_the_operator_guides_configuration_table():
    import re
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "docs" / "operator-guide.md").read_text()
    documented = {name for line in guide.splitlines() if line.startswith("| `CMAA_")
                  for name in re.findall(r"`(CMAA_[A-Z_]+)`", line.split("|")[1])}
    assert {f"CMAA_{name.upper()}" for name in Settings.model_fields} - documented == set()


def test_api_workers_are_one_to_thirty_two():
    assert Settings.model_fields["api_workers"].default == 1
    assert Settings(api_workers=32).api_workers == 32
    for bad in (0, 33):
        with pytest.raises(ValidationError, match="api_workers"):
            Settings(api_workers=bad)


def test_api_threads_default_follows_the_store_and_an_explicit_value_wins():
    assert Settings(database_url="sqlite:////tmp/x.db").api_threads == 1
    assert Settings(database_url="postgresql://127.0.0.1/test").api_threads == 4
    assert Settings(database_url="postgresql://127.0.0.1/test", api_threads=1).api_threads == 1
