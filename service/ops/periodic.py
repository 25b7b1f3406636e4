"""A background job that runs every so often in a node process (sealer, retention sweep)."""

from __future__ import annotations

import threading


class Periodic:
    """Calls :meth:`tick` every ``interval`` seconds on a daemon thread until :meth:`stop`.

    ``delay_first``: wait one interval before the first tick (else tick at start).
    """

    name = "cmaa-periodic"
    delay_first = False

    def __init__(self, interval: float):
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def tick(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        if self.delay_first and self._stop.wait(self.interval):
            return
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.interval)
