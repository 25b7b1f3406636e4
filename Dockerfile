# cmaa-exchange node. Untested on the development machines (no Docker engine there).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    CMAA_DATA_DIR=/var/lib/cmaa CMAA_HOST=0.0.0.0 CMAA_PORT=8600

# pg_dump/pg_restore for `cmaa backup` / `cmaa restore` of a PostgreSQL store
RUN apt-get update && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --system --home /var/lib/cmaa --shell /usr/sbin/nologin cmaa \
    && mkdir -p /var/lib/cmaa && chown cmaa /var/lib/cmaa

WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain ./domain
COPY adapters ./adapters
COPY service ./service
RUN pip install --no-cache-dir .

USER cmaa
VOLUME ["/var/lib/cmaa"]
EXPOSE 8600
# Liveness only (/healthz); orchestrators route traffic on /readyz.
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
    CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8600/healthz', timeout=2); sys.exit(0)"
# SIGTERM: stop accepting, drain, let the courier finish (CMAA_SHUTDOWN_GRACE_SECONDS).
STOPSIGNAL SIGTERM
CMD ["cmaa", "serve"]
