"""`cmaa serve` runs its courier as a child process (CMAA_COURIER=process, the default):
it delivers, its counters reach the node's /metrics, a dead child is replaced, and it
never outlives the node — not even one killed with SIGKILL."""

from __future__ import annotations

import os
import re
import signal

import httpx

from tests.e2e.test_faults import history, pair, their_case  # noqa: F401  (fixture)
from tests.factories import jp_no_request
from tests.servers import alive, children, cmaa, cmdline, wait_until


def delivered_count(no, operator) -> float:
    text = httpx.get(f"{no.base}/metrics", headers=operator).text
    for line in text.splitlines():
        found = re.fullmatch(r"cmaa_deliveries_total\{(.*)\} ([0-9.]+)", line)
        if found and set(found.group(1).split(",")) == {'partner="JP"', 'outcome="delivered"'}:
            return float(found.group(2))
    return 0.0


def courier_children(no) -> list[int]:
    return [pid for pid in children(no.process.pid) if b"courier" in cmdline(pid)]


def test_the_courier_child_delivers_reports_is_replaced_and_dies_with_the_node(pair):
    no, jp, no_h, jp_h = pair
    for args in (("officials", "add", "ops", "--name", "Ops", "--role", "operator"),):
        assert cmaa(no.env, *args).returncode == 0
    operator = {"Authorization": f"Bearer {cmaa(no.env, 'credentials', 'issue', 'ops').stdout.strip()}"}
    jp.start(), no.start()
    first = wait_until(lambda: courier_children(no))
    assert len(first) == 1

    case_id = httpx.post(f"{no.base}/cases", json=jp_no_request(), headers=no_h).json()["id"]
    wait_until(lambda: history(no, no_h, case_id).count("EnvelopeDelivered") == 1)
    assert their_case(jp, jp_h, case_id)["status"] == "received"
    wait_until(lambda: delivered_count(no, operator) == 1.0)  # the child's counter, on the node's /metrics

    os.kill(first[0], signal.SIGKILL)  # the node starts another courier
    second = wait_until(lambda: [pid for pid in courier_children(no) if pid != first[0]], timeout=15)
    case_id = httpx.post(f"{no.base}/cases", json=jp_no_request(), headers=no_h).json()["id"]
    wait_until(lambda: history(no, no_h, case_id).count("EnvelopeDelivered") == 1)
    wait_until(lambda: delivered_count(no, operator) == 2.0)  # still counting up across the replacement

    no.kill()  # SIGKILL: no shutdown runs; the child sees its pipe close and stops
    wait_until(lambda: not alive(second[0]), timeout=15)


def test_sigterm_stops_the_node_and_its_courier_child(pair):
    no, jp, no_h, jp_h = pair
    jp.start(), no.start()
    child = wait_until(lambda: courier_children(no))[0]
    wait_until(lambda: "courier for NO running" in open(no.log.name, encoding="utf-8").read())
    no.process.send_signal(signal.SIGTERM)
    no.process.wait(timeout=30)
    wait_until(lambda: not alive(child), timeout=15)
    assert "courier stopped" in open(no.log.name, encoding="utf-8").read()


def ignores_sigterm(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            mask = next(line for line in status if line.startswith("SigIgn:")).split()[1]
    except (OSError, StopIteration):
        return False
    return bool(int(mask, 16) & (1 << (signal.SIGTERM - 1)))


def warnings_and_errors(no) -> list[str]:
    return [line for line in open(no.log.name, encoding="utf-8").read().splitlines()
            if '"level": "warning"' in line or '"level": "error"' in line]


def test_a_stop_signalled_to_the_node_and_its_child_at_once_is_clean_even_while_the_child_starts(pair):
    """systemd stops a service by sending SIGTERM to every process of its control group; `timeout` and a
    terminal's Ctrl-C signal a process group. The child ignores such signals and stops when the node closes
    its stdin: no child stopped early and replaced during the shutdown ("exited unexpectedly"), no delivery
    reported still under way, at any moment — also while the child is still starting (a fresh one, signalled
    as soon as it exists)."""
    no, jp, no_h, jp_h = pair
    jp.start()
    for moment in ("running", "starting"):
        no.start()
        child = wait_until(lambda: courier_children(no))[0]
        if moment == "running":
            wait_until(lambda: "courier for NO running" in open(no.log.name, encoding="utf-8").read())
        else:  # its entry point has run (the signals ignored), its imports and the store not yet opened
            wait_until(lambda: ignores_sigterm(child), interval=0.005)
        for pid in (no.process.pid, child):
            os.kill(pid, signal.SIGTERM)
        no.process.wait(timeout=60)
        wait_until(lambda: not alive(child), timeout=30)
        log = open(no.log.name, encoding="utf-8").read()
        assert "courier stopped" in log, moment
        assert warnings_and_errors(no) == [], moment


def test_an_external_courier_setting_starts_no_child(pair):
    no, jp, no_h, jp_h = pair
    no.start(CMAA_COURIER="external")
    jp.start()
    case_id = httpx.post(f"{no.base}/cases", json=jp_no_request(), headers=no_h).json()["id"]
    assert courier_children(no) == []
    assert history(no, no_h, case_id) == ["AssistanceRequested"]
