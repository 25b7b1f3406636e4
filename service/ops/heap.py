"""The garbage collector in a node's long-running processes (``cmaa serve``, its workers, its courier)."""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Leave what start-up built out of the garbage collector's full collections from now on.

    A node process holds ~140,000 objects once started (modules, the app, its routes and schemas), which
    live as long as the process. Each full collection walked them all: 80-100 ms on this project's
    machines with every thread of the process stopped, every few seconds under load, and the slowest
    exchanges of ``bench/exchange.py`` were those queued behind such a pause (docs/performance.md).
    Objects made after this are collected as before.
    """
    gc.collect()
    gc.freeze()
