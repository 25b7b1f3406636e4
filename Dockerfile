# cmaa-exchange node. Untested on the development machines (no Docker engine there).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    CMAA_DATA_DIR=/var/lib/cmaa CMAA_HOST=0.0.0.0 CMAA_PORT=8600

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
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8600/openapi.json'); sys.exit(0)"
CMD ["cmaa", "serve"]
