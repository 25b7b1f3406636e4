"""`cmaa courier`: delivery of outgoing envelopes, as its own process or once."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from service.cli.common import err, open_node, out, store_location
from service.settings import Settings

courier = typer.Typer(help="Delivery of outgoing envelopes.", no_args_is_help=True)


@courier.command("run")
def courier_run(
    interval: Annotated[Optional[float], typer.Option(min=0.01, max=3600, help="Idle poll in seconds "
                                                      "(default CMAA_COURIER_INTERVAL_SECONDS)")] = None,
    child: Annotated[bool, typer.Option(hidden=True, help="Started by `cmaa serve` (CMAA_COURIER=process): woken "
                                        "by lines on stdin, stops at EOF, reports counters on stdout")] = False,
) -> None:
    """Deliver envelopes until SIGTERM, as its own process (with CMAA_COURIER=external for
    `cmaa serve`): several may run against one PostgreSQL store; each envelope goes out once at a time."""
    import signal
    import threading

    from service.exchange.courier_runners import UNFINISHED, CourierThread, child_of_the_node
    from service.ops.heap import freeze_startup_heap
    from service.ops.observability import configure_logging

    settings = Settings()
    configure_logging(settings.log_level)
    node = open_node()
    thread = CourierThread(node.courier, interval or settings.courier_interval_seconds or 0.5)
    stop = threading.Event()
    if child:  # the node stops it by closing its stdin; signals meant for the node are ignored (service/cli/__main__.py)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    else:
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
    thread.start()
    reporter = child_of_the_node(thread, node.metrics, stop) if child else None
    freeze_startup_heap()
    err.print(f"cmaa courier for {settings.administration} running (store: {store_location(settings)})",
              highlight=False)
    stop.wait()
    finished = thread.stop(settings.shutdown_grace_seconds)
    if reporter is not None:
        reporter.join(timeout=5)  # the last counts reach the node
    err.print("courier stopped" + ("" if finished else "; a delivery under way keeps its lease and is retried"))
    node.close()
    if not finished:  # the node that started it says so in its log (CourierProcess.stop)
        raise typer.Exit(UNFINISHED)


@courier.command("run-once")
def courier_run_once() -> None:
    """Deliver every due envelope once, then exit."""
    node = open_node()
    out.print(f"{node.courier.deliver_due()} envelope(s) reached a final state; "
              f"{len(node.store.exchange.pending())} pending")
