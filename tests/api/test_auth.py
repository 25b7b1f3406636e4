"""Every call is authenticated, and authorised by role and administration."""

from __future__ import annotations

import pytest

from tests.factories import jp_no_request


@pytest.mark.parametrize("header", [
    None,
    "Bearer not-a-token",
    "Bearer cmaa.0000000000000000.guess",
    "Basic dXNlcjpwYXNz",
])
def test_calls_without_a_valid_credential_get_401_problem(api, who, header):
    headers = {"Authorization": header} if header else {}
    response = api.get("/cases", headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_tampered_secret_is_rejected(api, who):
    token = who.official["Authorization"].removeprefix("Bearer ")
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert api.get("/cases", headers={"Authorization": f"Bearer {tampered}"}).status_code == 401


def test_a_revoked_credential_stops_working(api, who, node):
    token_id = who.official["Authorization"].split(".")[1]
    assert api.get("/cases", headers=who.official).status_code == 200
    node.directory.revoke_credential(by="test", token_id=token_id, reason="laptop lost")
    assert api.get("/cases", headers=who.official).status_code == 401


def test_a_revoked_official_cannot_act_even_with_a_live_credential(api, who):
    response = api.post("/directory/officials/no-hansen/revocation", headers=who.operator,
                        json={"reason": "left the service"})
    assert response.status_code == 200
    assert api.post("/cases", json=jp_no_request(), headers=who.official).status_code == 401


def test_an_auditor_reads_cases_but_cannot_act_on_them(api, who):
    case_id = api.post("/cases", json=jp_no_request(), headers=who.official).json()["id"]
    assert api.get(f"/cases/{case_id}/history", headers=who.auditor).status_code == 200
    response = api.post(f"/cases/{case_id}/closure", headers=who.auditor, json={"reason": "x"})
    assert response.status_code == 403
    assert response.json()["type"] == "urn:cmaa:problem:not-permitted"


def test_an_operator_cannot_make_requests(api, who):
    assert api.post("/cases", json=jp_no_request(), headers=who.operator).status_code == 403


def test_an_official_cannot_designate_officials(api, who):
    response = api.post("/directory/officials", headers=who.official,
                        json={"official_id": "no-x", "name": "X", "roles": ["operator"]})
    assert response.status_code == 403


def test_operator_designates_an_official_who_can_then_be_issued_a_credential(api, who, node):
    response = api.post("/directory/officials", headers=who.operator,
                        json={"official_id": "no-lie", "name": "Per Lie", "roles": ["official"]})
    assert response.status_code == 201
    token = node.directory.issue_credential(by="test", official_id="no-lie")
    assert api.get("/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_officials_act_only_on_their_own_administrations_cases(api, who, node):
    """An official of another administration (e.g. a node sharing the database) cannot touch Norway's case."""
    from uuid import UUID

    from domain.errors import NotPermitted
    from service.principal import Principal

    case_id = UUID(api.post("/cases", json=jp_no_request(), headers=who.official).json()["id"])
    intruder = Principal("se-andersson", "SE", ("official",))
    with pytest.raises(NotPermitted):
        node.cases.close(intruder, case_id, reason="not mine")
    assert node.cases.get(Principal("no-hansen", "NO", ("official",)), case_id).status == "requested"


# A process remembers the callers of recent requests, to spare a worker-thread hand-off per call
# (service/http/deps.py RecentCallers); every request is still checked against the store before it
# does anything or shows an endpoint's expected input. Each test below first makes a call that
# puts the caller in that memory.


def test_a_credential_revoked_after_its_last_call_gets_401_and_nothing_is_stored(api, who, node):
    assert api.post("/cases", json=jp_no_request(), headers=who.official).status_code == 201
    before = api.get("/cases", headers=who.colleague).json()["count"]
    node.directory.revoke_credential(by="test", token_id=who.official["Authorization"].split(".")[1], reason="lost")
    response = api.post("/cases", json=jp_no_request(), headers=who.official)
    assert response.status_code == 401 and response.json()["type"] == "urn:cmaa:problem:unauthenticated"
    assert api.get("/cases", headers=who.colleague).json()["count"] == before


def test_a_credential_revoked_after_its_last_call_learns_nothing_from_an_invalid_body(api, who, node):
    assert api.get("/cases", headers=who.official).status_code == 200
    node.directory.revoke_credential(by="test", token_id=who.official["Authorization"].split(".")[1], reason="lost")
    response = api.post("/cases", json={"agreement": 7}, headers=who.official)
    assert response.status_code == 401, response.text
    assert "agreement" not in response.text


def test_a_role_withdrawn_after_the_last_call_is_refused_and_nothing_is_stored(api, who, node):
    assert api.post("/cases", json=jp_no_request(), headers=who.colleague).status_code == 201
    before = api.get("/cases", headers=who.official).json()["count"]
    assert api.post("/directory/officials/no-berg/revocation", headers=who.operator,
                    json={"reason": "moved to audit"}).status_code == 200
    node.directory.designate_official(by="test", official_id="no-berg", name="Ola Berg", email="", roles=["auditor"])
    response = api.post("/cases", json=jp_no_request(), headers=who.colleague)
    assert response.status_code == 403, response.text
    assert api.post("/cases", json={"agreement": 7}, headers=who.colleague).status_code == 403
    assert api.get("/cases", headers=who.official).json()["count"] == before


def test_a_role_granted_after_the_last_call_is_honoured_at_once(api, who, node):
    assert api.get("/cases", headers=who.auditor).status_code == 200  # remembered as an auditor
    assert api.post("/directory/officials/no-audit/revocation", headers=who.operator,
                    json={"reason": "now an official"}).status_code == 200
    node.directory.designate_official(by="test", official_id="no-audit", name="Auditor", email="",
                                      roles=["auditor", "official"])
    assert api.post("/cases", json=jp_no_request(), headers=who.auditor).status_code == 201


def test_every_endpoint_that_takes_a_role_confirms_its_caller_before_it_runs(api):
    # A caller let through from memory is confirmed by the worker-thread wrapper (service/http/routing.py);
    # an endpoint reached any other way (an `async def` taking a role) would run unconfirmed.
    from service.http.roles import roles_of
    from service.http.routing import api_routes, on_worker_thread

    wrapper_code = on_worker_thread(lambda: None).__code__
    checked = 0
    for template, route in api_routes(api.app.router.routes):
        if roles_of(route) is None:
            continue
        checked += 1
        assert route.dependant.call.__code__ is wrapper_code, f"{template} takes a role but is not confirmed first"
    assert checked >= 40


# -- a credential this process has read before is asked about again at every call -------------------
def _another_process(node, clock):
    """The node's directory as another process on the same store sees and changes it (a replica, a
    `cmaa` command): its own store connection and its own caches."""
    from adapters.store import EventStore
    from service.exchange.directory import DirectoryService

    return DirectoryService(EventStore(node.store.url), node.agreements, clock, node.settings.administration)


def test_a_credential_revoked_by_another_process_is_refused_at_the_next_call(api, who, node, clock):
    assert api.get("/cases", headers=who.official).status_code == 200  # read (and kept) by this process
    assert api.get("/cases", headers=who.official).status_code == 200
    other = _another_process(node, clock)
    other.revoke_credential(by="op", token_id=who.official["Authorization"].split(".")[1], reason="laptop lost")
    assert api.get("/cases", headers=who.official).status_code == 401
    other.store.close()


def test_an_official_revoked_by_another_process_is_refused_at_the_next_call(api, who, node, clock):
    assert api.get("/cases", headers=who.official).status_code == 200
    assert api.get("/cases", headers=who.official).status_code == 200
    other = _another_process(node, clock)
    other.revoke_official(by="op", official_id="no-hansen", reason="left the service")
    assert api.post("/cases", json=jp_no_request(), headers=who.official).status_code == 401
    assert api.get("/cases", headers=who.official).status_code == 401
    other.store.close()


def test_a_known_credential_with_a_wrong_secret_or_past_its_expiry_is_refused(api, who, node, clock):
    from datetime import timedelta

    token = node.directory.issue_credential(by="op", official_id="no-hansen", valid_for=timedelta(hours=1))
    assert api.get("/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert api.get("/cases", headers={"Authorization": f"Bearer {tampered}"}).status_code == 401
    assert api.get("/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    clock.advance(seconds=3601)
    assert api.get("/cases", headers={"Authorization": f"Bearer {token}"}).status_code == 401
