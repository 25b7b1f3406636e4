"""`cmaa serve` with several API worker processes (``CMAA_API_WORKERS``, ``cmaa serve --workers N``).

uvicorn binds the listening socket once in the `cmaa serve` process and starts N worker
processes (``spawn``) that accept on it. Each worker imports :func:`worker_app` by name and
builds its own node from the same settings, read from the environment as the parent read
them: a replica on the node's database, with its own courier child, sealer, retention sweep
and directory refresh, exactly like one more `cmaa serve` on the same store. The parent
only supervises: on SIGTERM it passes SIGTERM to every worker, each drains its requests,
its courier hands back what it claimed, and the parent exits once they all have. A parent
killed outright (SIGKILL) cannot: each worker then notices within a second and stops itself.

With one worker, `cmaa serve` does not come here: it serves in its own process.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from typing import Any

from service.settings import Settings

WORKER_APP = "service.http.workers:worker_app"
# By name: uvicorn pickles its config for the workers, and each imports the class itself.
PROTOCOL = "service.http.server:NodeProtocol"


def worker_app():
    """uvicorn's app factory, run in each worker process: the node the settings name (the parent
    created or opened it first), its bounds on the protocol class, and the app with its courier child.

    A worker that cannot open that node (the store unreachable or emptied since the parent looked,
    another node there) exits with uvicorn's start-up failure status: the parent then stops every
    worker and `cmaa serve` exits non-zero (:func:`serve_workers`), instead of serving without a node
    or starting the worker again and again."""
    from uvicorn.config import STARTUP_FAILURE

    from service.cli.common import existing_settings
    from service.http.app import create_app
    from service.http.server import NodeProtocol
    from service.ops.observability import configure_logging

    settings = Settings()
    configure_logging(settings.log_level)
    _stop_when_orphaned()
    try:
        settings = existing_settings()  # the node itself, not an empty store of the same name
        NodeProtocol.header_timeout = settings.header_timeout_seconds  # this process's class, not the parent's
        NodeProtocol.max_connections = settings.max_connections
        return create_app(settings, own_process=True)
    except Exception as error:  # noqa: BLE001 - whatever it is, this worker cannot serve the node
        logging.getLogger("cmaa.serve").error("API worker %s cannot open the node: %s", os.getpid(), error)
        sys.exit(STARTUP_FAILURE)


def _stop_when_orphaned(every: float = 1.0) -> None:
    """This worker stops (SIGTERM to itself: its requests drain, its courier hands back what it claimed)
    once the `cmaa serve` process that started it has gone. A parent stopped with SIGTERM stops its
    workers itself; one killed (SIGKILL, the OOM killer) cannot, and its workers went on serving on
    the socket they share, each restarting its courier child, with nothing left to stop them."""
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(every)
            if os.getppid() != parent:
                logging.getLogger("cmaa.serve").error(
                    "API worker %s: the `cmaa serve` process that started it (%s) has gone; stopping", os.getpid(),
                    parent)
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, name="cmaa-parent-watch", daemon=True).start()


def serve_workers(settings: Settings, **options: Any) -> None:
    """Serve with ``settings.api_workers`` worker processes on one socket until SIGTERM or SIGINT.

    ``options`` are uvicorn's (host, port, TLS, logging, grace), as for one process.
    """
    import uvicorn

    # The workers read the environment, not this process's settings: what the command line
    # changed (--host, --port) goes there first, so that every worker publishes the same endpoint.
    os.environ["CMAA_HOST"] = settings.host
    os.environ["CMAA_PORT"] = str(settings.port)
    os.environ["CMAA_API_WORKERS"] = str(settings.api_workers)
    # uvicorn.run's own path for workers, keeping hold of the supervisor: uvicorn.run returns normally
    # when a worker failed to start, and `cmaa serve` would exit 0 (a service manager would not restart it).
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors.multiprocess import Multiprocess

    config = uvicorn.Config(WORKER_APP, factory=True, workers=settings.api_workers, http=PROTOCOL, **options)
    supervisor = Multiprocess(config, sockets=[config.bind_socket()])
    try:
        supervisor.run()
    except KeyboardInterrupt:
        pass
    failed = [process.pid for process in supervisor.processes if process.exitcode == STARTUP_FAILURE]
    if failed:
        print(f"error: API worker {', '.join(map(str, failed))} could not start (its log says why); "
              "`cmaa serve` stopped", file=sys.stderr)
        sys.exit(STARTUP_FAILURE)
