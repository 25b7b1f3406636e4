"""How a node runs its courier: a thread in the API process, or a child process woken through its stdin and
reporting its counters on stdout (``CMAA_COURIER``; docs/architecture.md)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from typing import Any

from service.exchange.courier import Courier
from service.exchange.service import ExchangeService

log = logging.getLogger("cmaa.courier")
UNFINISHED = 75  # the child's exit status when it stopped with a delivery under way (service/cli/courier.py)


class CourierThread:
    """Runs the courier in the background of a node process."""

    def __init__(self, courier: Courier, interval: float):
        self.courier = courier
        self.interval = interval
        self.wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cmaa-courier", daemon=True)
        courier.exchange.wake = self.wake.set

    def start(self) -> None:
        self._thread.start()

    def stop(self, grace: float = 10) -> bool:
        """Stop taking new envelopes; let the deliveries under way finish for up to ``grace``
        seconds. Claimed envelopes not yet sent are released at once; one still on the wire
        when the grace runs out keeps its lease and is sent again after it expires (the
        receiver answers the retry with the same receipt). Returns whether the pass finished."""
        self._stop.set()
        self.courier.stopping.set()
        self.wake.set()
        self._thread.join(timeout=grace)
        return not self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            # Cleared before the pass: an envelope queued during it wakes the next pass at once.
            self.wake.clear()
            try:
                self.courier.deliver_due()
            except Exception:  # the courier must outlive any one failure; the row stays pending
                log.exception("courier pass failed")
            # A full claim may have left more due: another pass at once. Otherwise nothing is due that
            # was not woken for, and the claim that would find nothing (a write transaction on SQLite,
            # two statements) waits for the next wake-up or the idle poll; rows in backoff, as before.
            if self.courier.last_claimed < self.courier.batch:
                self.wake.wait(self.interval)


class CourierProcess:
    """The courier as a child of ``cmaa serve`` (``CMAA_COURIER=process``, the default).

    Delivery gets its own interpreter (its own GIL, its own core) instead of sharing
    the API's; measured faster under load (``bench/exchange.py``, README). The node
    talks to it over two pipes: a byte on its stdin wakes it when an envelope is queued
    (no polling delay); its stdout carries its delivery counters as JSON lines, which
    the node's ``/metrics`` shows as its own. The child stops at EOF on stdin, so it
    never outlives the node, even one killed with SIGKILL; if the child dies, the node
    starts another (a delivery it had under way is retried after its lease).
    """

    RESTART_DELAY = 1.0

    def __init__(self, exchange: ExchangeService, metrics: Any, interval: float, argv: list[str] | None = None):
        self.exchange, self.metrics, self.interval = exchange, metrics, interval
        self.argv = argv or [sys.executable, "-m", "service.cli", "courier", "run", "--child"]
        self.process: subprocess.Popen | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._supervisor = threading.Thread(target=self._supervise, name="cmaa-courier-supervisor", daemon=True)

    def start(self) -> None:
        self._spawn()
        self.exchange.wake = self.wake
        self._supervisor.start()

    def _spawn(self) -> None:
        # Its own process group: a terminal's Ctrl-C and `timeout` signal the node, which stops the child itself.
        process = subprocess.Popen([*self.argv, "--interval", str(self.interval)], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, process_group=0)
        os.set_blocking(process.stdin.fileno(), False)
        with self._lock:
            self.process = process
        threading.Thread(target=self._relay, args=(process,), name="cmaa-courier-relay", daemon=True).start()

    def wake(self) -> None:
        with self._lock:
            process = self.process
        try:
            os.write(process.stdin.fileno(), b"\n")
        except (BlockingIOError, OSError, ValueError):
            pass  # pipe full (a wake-up is already pending) or the child is being replaced

    def _relay(self, process: subprocess.Popen) -> None:
        """The child's counters, as it reports them, into this process's metrics."""
        for line in process.stdout:
            try:
                report = json.loads(line)
            except ValueError:
                log.warning("courier process %s wrote a line that is not a report: %r", process.pid, line[:300])
                continue
            if self.metrics is not None and isinstance(report, dict):
                self.metrics.relay_courier_report(process.pid, report)

    def _supervise(self) -> None:
        while not self._stopping.is_set():
            with self._lock:
                process = self.process
            code = process.wait()
            if self._stopping.is_set():
                return
            log.error("courier process exited unexpectedly (status %s); starting another", code)
            if self._stopping.wait(self.RESTART_DELAY):
                return
            self._spawn()

    def stop(self, grace: float = 10) -> bool:
        """Its stdin closed: the child finishes the deliveries under way and hands back what it claimed (it
        ignores SIGTERM and SIGINT, which reach it with the node's when systemd stops the control group).
        Returns False if a delivery was left under way (the child exits with ``UNFINISHED``) or may have been
        (it failed otherwise, or did not stop in time)."""
        self._stopping.set()
        with self._lock:
            process = self.process
        if process is None or process.poll() is not None:
            return True
        try:
            process.stdin.close()
        except OSError:
            pass
        try:
            process.wait(timeout=grace + 5)
            return process.returncode == 0  # UNFINISHED: the child left a delivery under way
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return False


def child_of_the_node(thread: CourierThread, metrics: Any, stop: threading.Event) -> threading.Thread:
    """The child's side of :class:`CourierProcess`: a line on stdin wakes the courier, EOF (the
    node has gone, even if killed) stops it; its counters go to stdout when they change.
    Returns the reporting thread, which sends the last counts once ``stop`` is set."""

    def woken_by_the_node():
        while os.read(0, 4096):
            thread.wake.set()
        stop.set()

    def report():
        last = None
        while True:
            stopped = stop.wait(1.0)
            current = json.dumps(metrics.courier_report())
            if current != last:
                try:
                    sys.stdout.write(current + "\n")
                    sys.stdout.flush()
                except (BrokenPipeError, ValueError):
                    return
                last = current
            if stopped:
                return

    threading.Thread(target=woken_by_the_node, name="cmaa-courier-wake", daemon=True).start()
    reporter = threading.Thread(target=report, name="cmaa-courier-report", daemon=True)
    reporter.start()
    return reporter
