"""Partners' signed directories fetched from their endpoints: on a schedule, on an unknown sender, verified
against the pinned fingerprint with rollback protection; what the operator sees."""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient

from domain.directory import directory_id
from service.exchange.refresh import RefreshThread
from service.http.app import create_app
from service.node import initialise
from tests.exchange_helpers import bearer
from tests.factories import jp_no_request, make_node


class Serving:
    """A partner endpoint that answers every GET with what it is given (a token, a status, an error)."""

    def __init__(self, text: str = "", status: int = 200, error: Exception | None = None):
        self.text, self.status, self.error, self.calls = text, status, error, []

    def get(self, url: str, **_):
        self.calls.append(url)
        if self.error is not None:
            raise self.error
        return httpx.Response(self.status, text=self.text)


class Counting:
    """The real client to the partner, counting the directory fetches."""

    def __init__(self, http):
        self.http, self.calls = http, 0

    def get(self, url: str, **kwargs):
        self.calls += 1
        return self.http.get(url, **kwargs)


def text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text))


def designate_on_jp(jp, official: str) -> dict:
    jp.node.designate_official(by="test", official_id=official, name=official, roles=["official"])
    return bearer(jp.node.directory.issue_credential(by="test", official_id=official))


def request_from_jp(jp, headers: dict) -> str:
    body = jp_no_request(partner_administration="NO", addressed_to=["no-hansen"])
    response = jp.api.post("/cases", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def last_event(side, case_id: str) -> str:
    return side.api.get(f"/cases/{case_id}/history", headers=side.official).json()["data"][-1]["event"]


def held(side, administration: str) -> tuple:
    directory = side.node.directory.directory()
    partner = directory.partners[administration]
    keys = sorted(k for k, v in directory.partner_keys.items() if v["administration"] == administration)
    return partner["directory"]["digest"], sorted(partner["officials"]), keys


def status_of(side, administration: str) -> dict:
    response = side.api.get("/exchange/partners/directories", headers=side.operator)
    assert response.status_code == 200, response.text
    return next(p for p in response.json()["data"] if p["partner"] == administration)


def imports_of(side) -> int:
    return sum(type(e).__name__ == "PartnerDirectoryImported"
               for e in side.node.store.events.get(directory_id(side.node.settings.administration)))


# (a) ---------------------------------------------------------------------------------------------------
def test_an_official_designated_after_the_partner_imported_our_directory_is_accepted_at_once(nodes, clock):
    no, jp = nodes
    clock.advance(seconds=1)
    sato = designate_on_jp(jp, "jp-sato")
    case_id = request_from_jp(jp, sato)
    assert jp.deliver() == 1
    # NO met an unknown signing key claimed by JP, fetched JP's directory, and accepted on the first delivery.
    assert last_event(jp, case_id) == "EnvelopeDelivered"
    assert "jp-sato" in no.node.directory.directory().partners["JP"]["officials"]
    seen = status_of(no, "JP")
    assert (seen["last_refresh"]["trigger"], seen["last_refresh"]["outcome"]) == ("unknown-sender", "imported")


def test_an_official_the_partner_does_not_know_is_shown_until_one_of_their_envelopes_is_accepted(nodes, clock):
    no, jp = nodes
    clock.advance(seconds=1)
    sato = designate_on_jp(jp, "jp-sato")
    refresher, no.node.exchange.refresher = no.node.exchange.refresher, None  # a partner that never refreshes
    first = request_from_jp(jp, sato)
    jp.deliver()
    assert last_event(jp, first) == "EnvelopeRejected"
    assert status_of(jp, "NO")["unknown_officials"] == ["jp-sato"]
    no.node.exchange.refresher = refresher
    clock.advance(seconds=1)
    second = request_from_jp(jp, sato)
    jp.deliver()
    assert last_event(jp, second) == "EnvelopeDelivered"
    assert status_of(jp, "NO")["unknown_officials"] == []


def test_an_unknown_sender_refreshes_only_a_registered_partner_and_at_most_once_a_minute(nodes, clock):
    no, jp = nodes
    refresher = no.node.refresher
    refresher.http = counting = Counting(no.node.courier.http)
    assert refresher.on_unknown_sender("SE") is None and refresher.on_unknown_sender(None) is None
    assert counting.calls == 0
    first = refresher.on_unknown_sender("JP")
    assert first["trigger"] == "unknown-sender" and refresher.on_unknown_sender("JP") == first
    assert counting.calls == 1


def test_an_envelope_from_a_key_the_refresh_could_not_fetch_is_rejected_saying_why(nodes, clock):
    no, jp = nodes
    clock.advance(seconds=1)
    sato = designate_on_jp(jp, "jp-sato")
    no.node.refresher.http = Serving(error=httpx.ConnectError("refused"))
    case_id = request_from_jp(jp, sato)
    jp.deliver()
    history = jp.api.get(f"/cases/{case_id}/history", headers=sato).json()["data"]
    rejected = history[-1]
    assert rejected["event"] == "EnvelopeRejected", rejected
    assert "refreshing JP's directory from its endpoint failed: unreachable (ConnectError)" in str(rejected)
    assert "jp-sato" not in no.node.directory.directory().partners["JP"]["officials"]


# (b) ---------------------------------------------------------------------------------------------------
def test_the_scheduled_refresh_picks_up_a_new_official_and_a_rotated_key(nodes, clock):
    no, jp = nodes
    clock.advance(seconds=1)
    designate_on_jp(jp, "jp-sato")
    old = jp.node.directory.directory().current_key("jp-tanaka", "sig", clock.now())
    jp.node.exchange.rotate_official_keys("jp-tanaka", "test")
    new = jp.node.directory.directory().current_key("jp-tanaka", "sig", clock.now())
    clock.advance(seconds=1)
    RefreshThread(no.node.refresher, 3600).tick()
    directory = no.node.directory.directory()
    assert "jp-sato" in directory.partners["JP"]["officials"]
    assert new in directory.partner_keys and directory.partner_keys[old]["valid_until"] <= clock.now().isoformat()
    seen = status_of(no, "JP")["last_refresh"]
    assert (seen["trigger"], seen["outcome"]) == ("scheduled", "imported")
    assert seen["issued_at"] == status_of(no, "JP")["held"]["issued_at"] == clock.now().isoformat()
    # Nothing new on the next pass: no new event, the status says so.
    before = imports_of(no)
    clock.advance(seconds=1)
    assert no.node.refresher.refresh_all() == {"JP": "unchanged"}
    assert imports_of(no) == before


def test_the_service_refreshes_its_partners_directories_on_its_schedule_while_it_runs(nodes, clock):
    from tests.servers import wait_until

    no, jp = nodes
    clock.advance(seconds=1)
    designate_on_jp(jp, "jp-sato")
    settings = no.node.settings.model_copy(update={"directory_refresh_seconds": 3600, "courier_interval_seconds": 0,
                                                    "sealer_interval_seconds": 0, "retention_sweep_seconds": 0})
    with TestClient(create_app(settings, node=no.node, run_courier=True)):  # the first pass runs at start
        wait_until(lambda: "jp-sato" in no.node.directory.directory().partners["JP"]["officials"])
    assert status_of(no, "JP")["last_refresh"]["trigger"] == "scheduled"


# (c) ---------------------------------------------------------------------------------------------------
def test_a_directory_signed_by_another_node_key_is_refused_and_the_operator_sees_it(nodes, tmp_path, clock):
    no, jp = nodes
    impostor = make_node(f"sqlite:///{tmp_path / 'x.db'}", tmp_path / "x", clock, administration="JP")
    initialise(impostor)
    clock.advance(seconds=1)
    before = held(no, "JP")
    with TestClient(create_app(node=impostor, run_courier=False)) as forger:
        no.node.refresher.http = forger
        outcome = no.node.refresher.refresh("JP", "scheduled")
    impostor.close()
    assert outcome["outcome"] == "refused" and held(no, "JP") == before
    seen = status_of(no, "JP")["last_refresh"]
    assert seen["outcome"] == "refused" and "pinned fingerprint" in seen["refused_detail"]
    # A later failure does not hide the refusal.
    no.node.refresher.http = Serving(error=httpx.ConnectError("down"))
    no.node.refresher.refresh("JP", "scheduled")
    seen = status_of(no, "JP")["last_refresh"]
    assert seen["outcome"] == "failed" and "pinned fingerprint" in seen["refused_detail"]


def test_an_older_directory_is_refused_as_a_rollback_and_changes_nothing(nodes, clock):
    no, jp = nodes
    clock.advance(seconds=1)
    older = jp.node.exchange.export_directory()
    clock.advance(seconds=1)
    designate_on_jp(jp, "jp-sato")
    assert no.node.refresher.refresh("JP")["outcome"] == "imported"
    before, events = held(no, "JP"), imports_of(no)
    no.node.refresher.http = Serving(older)
    outcome = no.node.refresher.refresh("JP", "scheduled")
    assert outcome["outcome"] == "refused" and "rollback" in outcome["detail"]
    assert held(no, "JP") == before and "jp-sato" in before[1] and imports_of(no) == events
    assert "rollback" in status_of(no, "JP")["last_refresh"]["refused_detail"]


def test_a_tampered_directory_is_refused(nodes, clock):
    no, jp = nodes
    clock.advance(seconds=1)
    designate_on_jp(jp, "jp-sato")
    header, body, signature = jp.node.exchange.export_directory().split(".")
    before = held(no, "JP")
    no.node.refresher.http = Serving(f"{header}.{body[:-4]}AAAA.{signature}")
    assert no.node.refresher.refresh("JP")["outcome"] == "refused"
    assert held(no, "JP") == before


# (d) ---------------------------------------------------------------------------------------------------
def test_an_unreachable_partner_is_recorded_as_a_failure_and_nothing_else_changes(nodes, clock):
    no, jp = nodes
    clock.advance(seconds=1)
    assert no.node.refresher.refresh("JP")["outcome"] in ("imported", "unchanged")
    succeeded = status_of(no, "JP")["last_refresh"]["succeeded_at"]
    before, events = held(no, "JP"), imports_of(no)
    for serving in (Serving(error=httpx.ConnectTimeout("timed out")), Serving(status=503)):
        clock.advance(seconds=1)
        no.node.refresher.http = serving
        assert no.node.refresher.refresh_all() == {"JP": "failed"}
        assert serving.calls == ["http://jp.node.test/exchange/directory"]
    seen = status_of(no, "JP")["last_refresh"]
    assert seen["outcome"] == "failed" and seen["detail"] == "HTTP 503 from the partner"
    assert seen["succeeded_at"] == succeeded and seen["refused_at"] is None
    assert held(no, "JP") == before and imports_of(no) == events


def test_production_fetches_a_directory_over_https_only(nodes):
    no, _ = nodes
    no.node.refresher.production = True
    no.node.refresher.http = serving = Serving("never asked")
    outcome = no.node.refresher.refresh("JP")
    assert outcome["outcome"] == "failed" and "HTTPS" in outcome["detail"] and serving.calls == []


def test_the_operator_refreshes_a_partner_directory_through_the_api(nodes, clock):
    no, jp = nodes
    clock.advance(seconds=1)
    designate_on_jp(jp, "jp-sato")
    assert no.api.post("/exchange/partners/JP/directory/refresh", headers=no.official).status_code == 403
    assert no.api.post("/exchange/partners/SE/directory/refresh", headers=no.operator).status_code == 404
    response = no.api.post("/exchange/partners/JP/directory/refresh", headers=no.operator)
    assert response.status_code == 200 and response.json()["outcome"] == "imported"
    assert status_of(no, "JP")["held"]["issued_at"] == response.json()["issued_at"]


def test_the_operations_page_shows_each_partner_refresh_and_our_officials_it_does_not_know(nodes, clock):
    from tests.console.test_security import client, sign_in

    no, jp = nodes
    clock.advance(seconds=1)
    sato = designate_on_jp(jp, "jp-sato")
    no.node.exchange.refresher = None  # NO does not refresh: it rejects jp-sato's envelope
    request_from_jp(jp, sato)
    jp.deliver()
    page = client(jp.node)
    sign_in(page, jp.operator)
    assert re.search(r"<span class=\"tag red\">jp-sato</span>", page.get("/console/operations").text)
    console = client(no.node)
    csrf = sign_in(console, no.operator)
    assert "never" in text(console.get("/console/operations"))
    no.node.refresher.http = Serving(status=502)
    refreshed = text(console.post("/console/operations/partners/JP/directory/refresh", data={"csrf": csrf}))
    assert "Directory of JP: failed (HTTP 502 from the partner)" in refreshed
    no.node.refresher.http = Serving(jp.node.exchange.export_directory().replace(".", ".x", 1))
    no.node.refresher.refresh("JP", "scheduled")
    no.node.refresher.http = Serving(error=httpx.ReadTimeout("slow"))
    no.node.refresher.refresh("JP", "scheduled")
    shown = text(console.get("/console/operations"))
    assert "failed" in shown and "unreachable (ReadTimeout)" in shown and "refused" in shown


def test_the_signed_directory_is_served_while_the_api_worker_is_busy(store_url, tmp_path, clock, monkeypatch):
    """A partner refreshing on an unknown sender fetches our directory from inside its inbox request,
    perhaps while our one API worker (CMAA_API_THREADS=1) does the same towards it: the directory must
    not wait for that worker, or both sides wait out their fetch timeouts and refuse the envelopes."""
    import threading

    from tests.factories import client_for, configure, make_node

    node = make_node(store_url, tmp_path, clock, api_threads=1)
    who = configure(node)
    held, release = threading.Event(), threading.Event()
    authenticate = node.directory.authenticate

    def slow(token):
        held.set()
        release.wait(10)
        return authenticate(token)

    try:
        with client_for(node) as api:
            assert api.app.state.node.settings.api_threads == 1
            monkeypatch.setattr(node.directory, "authenticate", slow)
            busy = threading.Thread(target=lambda: api.get("/cases", headers=who.official))
            busy.start()
            assert held.wait(10)  # the API's only worker is taken
            served = api.get("/exchange/directory")
            assert served.status_code == 200 and served.text.count(".") == 2
            assert busy.is_alive()  # answered while the worker was still held
            release.set()
            busy.join(10)
    finally:
        release.set()
        node.close()
