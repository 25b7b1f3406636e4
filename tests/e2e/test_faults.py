"""Two real nodes over HTTP on 127.0.0.1: outages and crashes lose nothing."""

from __future__ import annotations

from uuid import UUID

import httpx
import pytest

from adapters.store import EventStore
from domain.messages import local_case_id
from tests.factories import jp_no_request
from tests.servers import two_administrations, wait_until


@pytest.fixture
def pair(tmp_path, store_url, request):
    second = f"sqlite:///{tmp_path / 'jp.db'}"
    if "postgres" in request.node.callspec.id:
        second = request.getfixturevalue("pg_url_second")
    via_cli = request.node.get_closest_marker("via_cli") is not None
    no, jp, no_token, jp_token = two_administrations(tmp_path, store_url, second, via_cli=via_cli)
    yield no, jp, {"Authorization": f"Bearer {no_token}"}, {"Authorization": f"Bearer {jp_token}"}
    no.stop()
    jp.stop()


def their_case(jp, headers, case_id):
    response = httpx.get(f"{jp.base}/cases/{local_case_id('JP', 'NO', UUID(case_id))}", headers=headers)
    return response.json() if response.status_code == 200 else None


def history(node, headers, case_id):
    return [e["event"] for e in httpx.get(f"{node.base}/cases/{case_id}/history", headers=headers).json()["data"]]


@pytest.mark.via_cli
def test_one_case_end_to_end_over_http_set_up_with_the_cli(pair):
    no, jp, no_h, jp_h = pair
    no.start(), jp.start()
    case_id = httpx.post(f"{no.base}/cases", json=jp_no_request(), headers=no_h).json()["id"]
    theirs = wait_until(lambda: their_case(jp, jp_h, case_id))
    httpx.post(f"{jp.base}/cases/{theirs['id']}/acknowledgement", headers=jp_h)
    httpx.post(f"{jp.base}/cases/{theirs['id']}/replies", headers=jp_h, json={"items": [
        {"title": "Export declaration", "content": "JPY 1,200,000",
         "restrictions": {"law_enforcement_onward": False}}]})
    mine = wait_until(lambda: (c := httpx.get(f"{no.base}/cases/{case_id}", headers=no_h).json())["status"]
                      == "replied" and c)
    assert mine["items"][0]["restrictions"]["law_enforcement_onward"] is False
    assert history(no, no_h, case_id).count("EnvelopeDelivered") == 1
    wait_until(lambda: history(jp, jp_h, theirs["id"]).count("EnvelopeDelivered") == 2)
    # The sealer runs in the background of each node and publishes signed checkpoints.
    checkpoint = wait_until(lambda: (r := httpx.get(f"{no.base}/audit/checkpoint")).status_code == 200 and r.json())
    assert checkpoint["tree_size"] > 0 and checkpoint["note"].startswith("cmaa-exchange/NO\n")


def test_partner_down_while_sending_is_delivered_after_it_returns(pair):
    no, jp, no_h, jp_h = pair
    no.start()
    case_id = httpx.post(f"{no.base}/cases", json=jp_no_request(), headers=no_h).json()["id"]
    wait_until(lambda: httpx.get(f"{no.base}/exchange/outbox", headers=no_h).status_code in (200, 403))
    jp.start()
    assert wait_until(lambda: their_case(jp, jp_h, case_id), timeout=45)
    wait_until(lambda: "EnvelopeDelivered" in history(no, no_h, case_id), timeout=45)


def test_sender_killed_between_storing_and_delivering_delivers_after_restart_once(pair):
    no, jp, no_h, jp_h = pair
    jp.start()
    no.start(CMAA_COURIER_INTERVAL_SECONDS="0")  # the courier never runs in this life
    case_id = httpx.post(f"{no.base}/cases", json=jp_no_request(), headers=no_h).json()["id"]
    no.kill()
    assert their_case(jp, jp_h, case_id) is None
    no.start()
    wait_until(lambda: "EnvelopeDelivered" in history(no, no_h, case_id))
    theirs = their_case(jp, jp_h, case_id)
    assert [e for e in history(jp, jp_h, theirs["id"])] == ["RequestReceived"]


def test_receiver_killed_after_storing_before_answering_gets_the_same_receipt_and_applies_once(pair):
    no, jp, no_h, jp_h = pair
    jp.start(CMAA_UNSAFE_FAULT_EXIT_AFTER_INBOX_STORE="true")
    no.start()
    case_id = httpx.post(f"{no.base}/cases", json=jp_no_request(), headers=no_h).json()["id"]
    wait_until(lambda: jp.process.poll() is not None)  # it stored the envelope and died
    jp.start()
    wait_until(lambda: "EnvelopeDelivered" in history(no, no_h, case_id), timeout=45)
    theirs = their_case(jp, jp_h, case_id)
    assert history(jp, jp_h, theirs["id"]) == ["RequestReceived"]
    assert history(no, no_h, case_id).count("EnvelopeDelivered") == 1


def test_receiver_killed_after_storing_a_batch_before_answering_applies_each_envelope_once(pair):
    """Several envelopes in one request (docs/envelope-format.md §3.5): stored together, the answer lost;
    the sender sends them again and gets the first receipts; each case has its request once."""
    no, jp, no_h, jp_h = pair
    jp.start(CMAA_UNSAFE_FAULT_EXIT_AFTER_INBOX_STORE="true")
    no.start(CMAA_COURIER_INTERVAL_SECONDS="0")  # the courier never runs in this life: the requests wait
    cases = [httpx.post(f"{no.base}/cases", json=jp_no_request(), headers=no_h).json()["id"] for _ in range(4)]
    no.kill()
    no.start()  # its courier finds the four due at once: one request
    wait_until(lambda: jp.process.poll() is not None)  # it stored them and died
    stored = EventStore(jp.env["CMAA_DATABASE_URL"])  # one by one, it would have died after the first
    assert stored.exchange._run("SELECT COUNT(*) AS n FROM {p}cmaa_inbox", (), fetch=True)[0]["n"] == 4
    stored.close()
    jp.start()
    for case_id in cases:
        wait_until(lambda: "EnvelopeDelivered" in history(no, no_h, case_id), timeout=45)
    for case_id in cases:
        assert history(jp, jp_h, their_case(jp, jp_h, case_id)["id"]) == ["RequestReceived"]
        assert history(no, no_h, case_id).count("EnvelopeDelivered") == 1


def test_sigterm_under_traffic_exits_cleanly_and_every_accepted_request_is_delivered_once(pair):
    import signal
    import threading
    import time

    no, jp, no_h, jp_h = pair
    jp.start()
    no.start(CMAA_SHUTDOWN_GRACE_SECONDS="10")
    accepted: list[str] = []
    refused = threading.Event()

    def officials_keep_sending():
        with httpx.Client(timeout=5) as client:
            while not refused.is_set():
                try:
                    response = client.post(f"{no.base}/cases", json=jp_no_request(), headers=no_h)
                except httpx.TransportError:
                    refused.set()  # the node stopped taking requests
                    return
                if response.status_code == 201:
                    accepted.append(response.json()["id"])
                elif response.status_code != 429:
                    refused.set()
                    return

    sender = threading.Thread(target=officials_keep_sending)
    sender.start()
    wait_until(lambda: len(accepted) >= 15, timeout=30, interval=0.05)
    no.process.send_signal(signal.SIGTERM)  # mid-traffic: requests and deliveries under way
    started = time.monotonic()
    # uvicorn drains, runs the app's shutdown, then re-raises SIGTERM to end the process
    # the conventional way (exit status -15); the log shows the orderly path was taken.
    assert no.process.wait(timeout=30) in (0, -signal.SIGTERM)
    assert time.monotonic() - started < 25
    log = open(no.log.name, encoding="utf-8").read()
    assert '"msg": "node stopped"' in log and "Application shutdown complete" in log
    sender.join(timeout=10)
    assert refused.is_set()

    no.start()
    for case_id in accepted:  # nothing accepted is lost ...
        wait_until(lambda: "EnvelopeDelivered" in history(no, no_h, case_id), timeout=60)
    for case_id in accepted:  # ... and each is applied once at the partner
        assert history(no, no_h, case_id).count("EnvelopeDelivered") == 1
        assert history(jp, jp_h, their_case(jp, jp_h, case_id)["id"]) == ["RequestReceived"]


def test_the_courier_as_its_own_process_delivers_and_stops_cleanly(pair):
    """CMAA_COURIER=external: `cmaa serve` takes requests, `cmaa courier run` delivers."""
    import signal
    import subprocess
    import sys

    no, jp, no_h, jp_h = pair
    no.start(CMAA_COURIER="external")
    jp.start()
    case_id = httpx.post(f"{no.base}/cases", json=jp_no_request(), headers=no_h).json()["id"]
    with pytest.raises(AssertionError):  # nobody delivers yet
        wait_until(lambda: their_case(jp, jp_h, case_id), timeout=2)
    courier = subprocess.Popen([sys.executable, "-m", "service.cli", "courier", "run", "--interval", "0.1"],
                               env={**no.env, "CMAA_COURIER": "external"}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        theirs = wait_until(lambda: their_case(jp, jp_h, case_id))
        assert theirs["status"] == "received"
        wait_until(lambda: history(no, no_h, case_id).count("EnvelopeDelivered") == 1)
    finally:
        courier.send_signal(signal.SIGTERM)
        _, stderr = courier.communicate(timeout=30)
    assert courier.returncode == 0 and "courier stopped" in stderr
