"""Commands that start, create or show a node: serve, init, openapi, demo."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Annotated, Optional

import typer

from service.cli.common import create_or_open, err, out, store_location
from service.settings import Settings


def serve(
    host: Annotated[Optional[str], typer.Option(help="Listen address (CMAA_HOST)")] = None,
    port: Annotated[Optional[int], typer.Option(help="Listen port (CMAA_PORT)")] = None,
    workers: Annotated[Optional[int], typer.Option(min=1, max=32, help="API worker processes on the one listening "
                                                   "socket, each a replica with its courier (CMAA_API_WORKERS)")] = None,
) -> None:
    """Start the node (first run: create the store, node keys and an operator credential)."""
    import uvicorn

    from service.http.app import create_app
    from service.http.server import protocol_for, refuse_taken_port
    from service.ops.observability import configure_logging, uvicorn_log_config

    settings = Settings()
    configure_logging(settings.log_level)
    if host or port or workers:
        settings = settings.model_copy(update={k: v for k, v in (("host", host), ("port", port),
                                                                 ("api_workers", workers)) if v})
    refuse_taken_port(settings.host, settings.port, "stop it, or choose another port with --port or CMAA_PORT")
    node, _ = create_or_open(settings, service=True)
    err.print(f"cmaa node {settings.administration} on {settings.endpoint} "
              f"(store: {store_location(settings)}; node key {node.exchange.node_fingerprint()})", highlight=False)
    tls = {}
    if settings.tls_cert:
        tls = {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
        if settings.tls_ca:  # mutual TLS: partners must present a certificate from this CA
            tls.update(ssl_ca_certs=str(settings.tls_ca), ssl_cert_reqs=ssl.CERT_REQUIRED)
    # JSON logs; uvicorn's access log (raw paths and query strings) is replaced by ours.
    # On SIGTERM uvicorn stops accepting, drains requests for the grace period, then the
    # app's shutdown lets the courier finish or hand back its deliveries.
    options = dict(host=settings.host, port=settings.port, log_level=settings.log_level,
                   log_config=uvicorn_log_config(), access_log=False,
                   timeout_graceful_shutdown=int(settings.shutdown_grace_seconds), **tls)
    if settings.api_workers > 1:  # worker processes, each opening the node as a replica (service/http/workers.py)
        from service.http.workers import serve_workers

        node.close()
        return serve_workers(settings, **options)
    uvicorn.run(create_app(settings, node=node, own_process=True),
                http=protocol_for(settings),  # problem+json below the app, slow clients, connection bound
                **options)


def init() -> None:
    """Create the store, node keys and the first operator credential, then exit (a node already there is kept)."""
    settings = Settings()
    node, created = create_or_open(settings)
    out.print(f"node {settings.administration} {'created' if created else 'already'} at {settings.data_dir.resolve()} "
              f"(store: {store_location(settings)})", highlight=False)
    node.close()


def export_openapi(
    output: Annotated[Path, typer.Option(help="Where to write")] = Path("openapi/openapi.json"),
    guide: Annotated[Optional[Path], typer.Option(help="Also write the API reference by user (Markdown) "
                                                  "here, e.g. docs/api-reference.md")] = None,
) -> None:
    """Write the API's OpenAPI document (and, with --guide, the API reference grouped by user)."""
    from service.http.openapi import openapi_document

    for path in (output, guide):
        if path is not None and not path.parent.resolve().is_dir():
            raise typer.BadParameter(f"no directory {path.parent.resolve()} to write into")
    output.write_text(openapi_document())
    out.print(f"wrote {output}")
    if guide is not None:
        from service.http.api_guide import api_guide

        guide.write_text(api_guide())
        out.print(f"wrote {guide}")


def _demo_port(value: int) -> int:
    if not 0 <= value <= 65534:
        raise typer.BadParameter(f"{value} is not a port the demo can use: give 1-65534 (the demo listens on it "
                                 "and the next), or 0 for two free ones")
    return value


def demo(base_port: Annotated[int, typer.Option(callback=_demo_port, help="First of two loopback ports (it and "
                                                "the next); 0 picks free ones")] = 8710) -> None:
    """Two nodes (Norway, Japan) on loopback walk one case end to end."""
    from service.ops.demo import run_demo

    run_demo(base_port, out)
