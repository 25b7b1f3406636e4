# cmaa-exchange node. Not built on the development machines (a Docker client but no engine there):
# tests/integration/test_container_files.py checks this file and docker-compose.yml as files;
# tests/e2e/test_compose_setup.py runs its health check and the compose settings on local nodes.
# The base image pinned by version (Debian 12 "bookworm"); pin it by digest in your registry mirror.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    CMAA_DATA_DIR=/var/lib/cmaa CMAA_HOST=0.0.0.0 CMAA_PORT=8600

# pg_dump/pg_restore for `cmaa backup` / `cmaa restore` of a PostgreSQL store: the client's major
# version must be that of the server (pg_dump refuses a newer server); docker-compose.yml runs 15,
# bookworm's own client.
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client-15 \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --system --home /var/lib/cmaa --shell /usr/sbin/nologin cmaa \
    && mkdir -p /var/lib/cmaa && chown cmaa /var/lib/cmaa

WORKDIR /app
COPY pyproject.toml README.md requirements.lock ./
# The locked versions, each checked against its hash; then the node itself without resolving again.
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY domain ./domain
COPY adapters ./adapters
COPY service ./service
RUN pip install --no-cache-dir --no-deps .

USER cmaa
VOLUME ["/var/lib/cmaa"]
EXPOSE 8600
# Liveness only (/healthz) on the configured port (CMAA_PORT) and scheme (TLS when CMAA_TLS_CERT is set,
# presenting the node's own certificate under mutual TLS); orchestrators route traffic on /readyz.
# Secrets may come from files: CMAA_KEY_PASSPHRASE_FILE=/run/secrets/..., CMAA_DATABASE_URL_FILE=...
COPY deploy/healthcheck.py /usr/local/bin/cmaa-healthcheck
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s CMD ["python", "/usr/local/bin/cmaa-healthcheck"]
# SIGTERM: stop accepting, drain, let the courier finish (CMAA_SHUTDOWN_GRACE_SECONDS).
STOPSIGNAL SIGTERM
CMD ["cmaa", "serve"]
