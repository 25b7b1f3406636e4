"""Configuration from the environment (``CMAA_*``), validated at start-up."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict


WEAK_PASSPHRASES = {"changeme", "change-me", "password", "passphrase", "secret", "demo", "cmaa", "test",
                    "development", "0000000000000000", "correct horse battery staple"}


class SettingsFileError(ValueError):
    """A ``CMAA_<NAME>_FILE`` names a file that cannot be read: a configuration error, like a bad setting."""


class SecretFiles(PydanticBaseSettingsSource):
    """``CMAA_<NAME>_FILE=/run/secrets/x``: the setting read from that file (Docker and systemd secrets), so
    passphrases and URLs with passwords stay out of the environment. ``CMAA_<NAME>`` itself wins if set."""

    def get_field_value(self, field, field_name):  # pragma: no cover - __call__ reads them all
        return None, field_name, False

    def __call__(self) -> dict:
        import os

        found = {}
        for name in self.settings_cls.model_fields:
            path = os.environ.get(f"CMAA_{name.upper()}_FILE")
            if path and f"CMAA_{name.upper()}" not in os.environ:
                try:
                    found[name] = Path(path).read_text().strip()
                except OSError as error:
                    raise SettingsFileError(f"CMAA_{name.upper()}_FILE: cannot read {path}: {error.strerror} (point it "
                                            f"at the file holding the setting, or unset it)") from None
        return found


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CMAA_", extra="ignore")

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        return init_settings, env_settings, SecretFiles(settings_cls), dotenv_settings, file_secret_settings

    administration: str = Field("NO", description="ISO 3166 code of this node's customs administration")
    administration_name: str = Field("Norwegian Customs", description="Display name of the administration")
    data_dir: Path = Field(Path("var/cmaa"), description="Where the SQLite store and node keys live")
    database_url: str | None = Field(None, description="sqlite:///... (default: <data dir>/cmaa.db) or postgresql://...")
    host: str = Field("127.0.0.1", description="Listen address")
    port: int = Field(8600, ge=1, le=65535, description="Listen port")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    environment: Literal["development", "production"] = "development"
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest accepted request body")
    key_passphrase: str | None = Field(None, description="Encrypts the node's private keys at rest")
    page_size: int = Field(50, ge=1, le=500)
    public_url: str | None = Field(None, description="This node's base URL as partners reach it (published in "
                                   "its directory); default http://<host>:<port>")
    envelope_max_skew_seconds: int = Field(300, ge=5, le=86_400, description="Accepted clock difference for envelopes")
    courier_interval_seconds: float = Field(0.5, ge=0, le=3600, description="Courier idle poll; 0 disables it")
    courier: Literal["process", "thread", "external"] = Field(
        "process", description="Where `cmaa serve` runs the courier: `process` a child process (its own CPU and "
        "GIL; measured fastest), `thread` inside the API process, `external` none (run `cmaa courier run` yourself)")
    courier_envelopes_per_request: int = Field(
        16, ge=1, le=64, description="Under load, up to this many envelopes (of different cases) go to a partner "
        "in one request, `POST /exchange/inbox/batch`; 1 sends one per request. A partner without batches "
        "(404 or 405 there) gets one per request either way")
    tls_cert: Path | None = Field(None, description="PEM certificate chain this node presents (server and client)")
    tls_key: Path | None = Field(None, description="PEM private key of tls_cert")
    sealer_interval_seconds: float = Field(1.0, ge=0, le=3600, description="How often new events are sealed into "
                                           "the Merkle log; 0 disables the sealer in this process")
    checkpoint_every_events: int = Field(100, ge=1, description="Sign a checkpoint after this many new leaves")
    checkpoint_every_seconds: float = Field(60, ge=1, description="... or after this long, if anything changed")
    unsafe_fault_exit_after_inbox_store: bool = Field(
        False, description="TEST ONLY: the process exits right after storing an inbound envelope, before "
        "answering (proves exactly-once delivery); refused in production")
    tls_ca: Path | None = Field(None, description="PEM CA bundle that partner certificates must chain to; "
                                "set it to require mutual TLS")

    ready_max_sealer_lag_events: int = Field(10_000, ge=1, description="/readyz fails when more events than "
                                             "this wait to be sealed into the Merkle log")
    ready_max_outbox_overdue_seconds: int = Field(300, ge=10, description="/readyz fails when an envelope has been "
                                                  "due for delivery this long without a courier taking it")
    rate_limit_official: str = Field("600/minute", description="API calls per official, per node process "
                                     "(limits notation: N/second|minute|hour, several joined by ';')")
    rate_limit_partner: str = Field("6000/minute", description="Inbound envelopes per partner administration, "
                                    "per node process")
    backup_passphrase: str | None = Field(None, description="Encrypts the key archive of `cmaa backup` (at least "
                                          "12 characters); keep it apart from the backups")
    retention_sweep_seconds: float = Field(3600, ge=0, le=86_400 * 7, description="How often the service erases "
                                           "personal data past its retention (JP-NO Art. 9(2)); 0 disables it "
                                           "in this process (run `cmaa dpo sweep` instead)")
    directory_refresh_seconds: float = Field(3600, ge=0, le=86_400 * 7, description="How often the service "
                                             "fetches each partner's signed directory from its endpoint (verified "
                                             "against the pinned fingerprint, never older than the one held); 0 "
                                             "disables the schedule in this process (an unknown sender still "
                                             "triggers one)")
    api_threads: int | None = Field(None, ge=1, le=64, description="Worker threads for the API's blocking work "
                                    "(store, crypto); requests beyond them wait their turn. Default: 1 on SQLite "
                                    "(one writer at a time; fewer threads contending for the interpreter lock "
                                    "measured fastest), 4 on PostgreSQL (a request waiting on the database leaves "
                                    "the others running: +22 % full exchanges/s, bench/exchange.py). Raise it so "
                                    "that long requests (audit replays, erasures) do not hold up short ones")
    api_workers: int = Field(1, ge=1, le=32, description="API worker processes of `cmaa serve` on one listening "
                             "socket (`cmaa serve --workers N` overrides it). Each is a replica on the node's "
                             "database with its own courier child and periodic threads; 1 serves in the `cmaa "
                             "serve` process itself. On SQLite they take turns at the one write lock")
    store_wait_seconds: float = Field(10, gt=0, le=600, description="A request that has not begun its store work "
                                      "this long after it arrived (queued behind other work, or the store slow) is "
                                      "answered 503 store-wait-exceeded and stores nothing; keep it below your "
                                      "clients' timeouts")
    idempotency_retention_hours: float = Field(24, gt=0, le=24 * 90, description="How long an Idempotency-Key and "
                                               "the response it recorded are kept (a retry within it is answered "
                                               "from the record)")
    header_timeout_seconds: float = Field(5, gt=0, le=300, description="A connection whose request head (request "
                                          "line and headers) is not complete this long after it began is "
                                          "answered 408 and closed (slow clients)")
    max_connections: int = Field(500, ge=1, le=100_000, description="Open connections past this bound get 503 "
                                 "problem+json and are closed (health checks are still answered); keep it under "
                                 "the process's open-file limit")
    shutdown_grace_seconds: float = Field(20, ge=0, le=600, description="On SIGTERM: how long in-flight requests "
                                          "and deliveries may take before they are abandoned (and retried later)")

    @field_validator("rate_limit_official", "rate_limit_partner")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a rate such as '600/minute' or '10/second;600/minute'") from None
        return value

    @field_validator("administration")
    @classmethod
    def _iso_code(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Z]{2}", value):
            raise ValueError("CMAA_ADMINISTRATION must be a two-letter ISO 3166 code such as NO or JP")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.api_threads is None:
            postgres = (self.database_url or "").startswith(("postgresql", "postgres:"))
            self.api_threads = 4 if postgres else 1
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("CMAA_TLS_CERT and CMAA_TLS_KEY are set together (the certificate chain and its key)")
        for name in ("tls_cert", "tls_key", "tls_ca"):
            path = getattr(self, name)
            if path is not None and not Path(path).is_file():
                raise ValueError(f"CMAA_{name.upper()}: no file at {path}")
        if self.environment == "production":
            problems = self.production_problems()
            if problems:
                raise ValueError("CMAA_ENVIRONMENT=production refuses development defaults: " + "; ".join(problems))
        return self

    def production_problems(self) -> list[str]:
        """What keeps these settings from production, each with the setting and the fix."""
        problems = []
        if not self.key_passphrase:
            problems.append("set CMAA_KEY_PASSPHRASE to encrypt the node keys at rest")
        elif len(self.key_passphrase) < 16 or self.key_passphrase.lower() in WEAK_PASSPHRASES:
            problems.append("CMAA_KEY_PASSPHRASE is a default or shorter than 16 characters; use a generated one")
        if self.backup_passphrase and (len(self.backup_passphrase) < 16
                                       or self.backup_passphrase.lower() in WEAK_PASSPHRASES):
            problems.append("CMAA_BACKUP_PASSPHRASE is a default or shorter than 16 characters; use a generated one")
        if not (self.tls_cert and self.tls_key):
            problems.append("set CMAA_TLS_CERT and CMAA_TLS_KEY: no plain HTTP between nodes")
        if self.public_url and not self.public_url.startswith("https://"):
            problems.append("CMAA_PUBLIC_URL must be an https:// URL")
        if self.unsafe_fault_exit_after_inbox_store:
            problems.append("unset CMAA_UNSAFE_FAULT_EXIT_AFTER_INBOX_STORE (a test fault)")
        if (self.keys_dir / ".passphrase").exists():
            problems.append(f"the keys in {self.keys_dir} were made in development mode with a generated passphrase "
                            "(.passphrase); create production keys under CMAA_KEY_PASSPHRASE in a new CMAA_DATA_DIR")
        return problems

    @property
    def endpoint(self) -> str:
        scheme = "https" if self.tls_cert else "http"
        return self.public_url or f"{scheme}://{self.host}:{self.port}"

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'cmaa.db'}"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"
