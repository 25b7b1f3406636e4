"""The console over raw HTTP: sessions, CSRF, roles, headers, purposes, errors as pages."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from service.http.app import create_app
from tests.factories import configure, jp_no_request, make_node, received_request

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def node(store_url, tmp_path, clock):
    node = make_node(store_url, tmp_path, clock)
    node.officials = configure(node)
    node.directory.designate_official(by="test", official_id="no-dpo", name="DPO", email="", roles=["dpo"])
    node.officials.dpo = {"Authorization": f"Bearer {node.directory.issue_credential(by='test', official_id='no-dpo')}"}
    yield node
    node.close()


def client(node, base_url: str = "http://testserver") -> TestClient:
    return TestClient(create_app(node=node, run_courier=False), raise_server_exceptions=False, base_url=base_url)


def sign_in(api: TestClient, headers: dict) -> str:
    """Sign in as the holder of ``headers``' credential; return the session's CSRF token."""
    form = api.get("/console/sign-in")
    response = api.post("/console/sign-in", data={"csrf": CSRF.search(form.text).group(1),
                                                  "credential": headers["Authorization"].split()[1]},
                        follow_redirects=False)
    assert response.status_code == 303, response.text
    return CSRF.search(api.get("/console/").text).group(1)


def test_the_session_cookie_is_strict_and_the_credential_stays_on_the_server(node):
    api = client(node)
    form = api.get("/console/sign-in")
    response = api.post("/console/sign-in", data={"csrf": CSRF.search(form.text).group(1),
                                                  "credential": node.officials.official["Authorization"][7:]},
                        follow_redirects=False)
    set_cookie = response.headers["set-cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=strict" in set_cookie and "Max-Age=" in set_cookie
    assert "Path=/console" in set_cookie and "Secure" not in set_cookie.split("cmaa_console_signin")[0]
    token = node.officials.official["Authorization"][7:]
    assert token not in set_cookie and token.split(".")[2] not in api.cookies.get("cmaa_console")
    tls = client(node, "https://testserver")
    form = tls.get("/console/sign-in")
    assert "Secure" in form.headers["set-cookie"]
    response = tls.post("/console/sign-in", data={"csrf": CSRF.search(form.text).group(1), "credential": token},
                        follow_redirects=False)
    session_cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("cmaa_console="))
    assert "Secure" in session_cookie


def test_every_console_page_has_the_strict_policy_and_no_page_is_reachable_signed_out(node):
    api = client(node)
    for path in ("/console/", "/console/cases", "/console/cases/new", "/console/audit", "/console/dpo",
                 "/console/dpo/activity", "/console/operations"):
        response = api.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/console/sign-in", path
        assert "script-src 'none'" in response.headers["content-security-policy"]
    page = api.get("/console/sign-in")
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text and "style=" not in page.text and "http" not in page.text.split("<body>")[1]
    missing = api.get("/console/no/such/page")
    assert missing.status_code == 404 and missing.headers["content-type"].startswith("text/html")


def test_a_form_without_the_sessions_csrf_token_is_refused_and_changes_nothing(node):
    api = client(node)
    csrf = sign_in(api, node.officials.official)
    other = client(node)
    other_csrf = sign_in(other, node.officials.colleague)
    received = api.app.state.node.cases.record_received_request(
        api.app.state.node.directory.authenticate(node.officials.official["Authorization"][7:]), received_request())
    for data in ({}, {"csrf": "forged"}, {"csrf": other_csrf}, {"csrf": csrf[:-1]}):
        response = api.post(f"/console/cases/{received.id}/acknowledge", data=data)
        assert response.status_code == 403 and "Form expired or forged" in response.text
        assert response.headers["content-type"].startswith("text/html")
    assert node.cases.get(node.directory.authenticate(node.officials.official["Authorization"][7:]),
                          received.id).status == "received"
    assert api.post(f"/console/cases/{received.id}/acknowledge", data={"csrf": csrf}).status_code == 200
    # Signing in needs the sign-in form's own double-submit token, too.
    fresh = client(node)
    response = fresh.post("/console/sign-in", data={"csrf": "x", "credential": node.officials.official[
        "Authorization"][7:]}, follow_redirects=False)
    assert response.status_code == 403 and "cmaa_console=" not in response.headers.get("set-cookie", "")


def test_an_officials_session_cannot_reach_the_dpos_pages_or_act_as_dpo(node):
    api = client(node)
    csrf = sign_in(api, node.officials.official)
    api.post("/cases", json=jp_no_request(), headers=node.officials.official)
    for path in ("/console/dpo", "/console/dpo/activity", "/console/operations", "/console/audit"):
        response = api.get(path)
        assert response.status_code == 403 and "this needs the" in response.text, path
    subject = {"csrf": csrf, "subject_id_scheme": "company_registration", "subject_id_value": "NO-987654321",
               "rule": "GDPR Art. 17", "confirmed": "yes", "understood": "yes"}
    for path in ("/console/dpo/report", "/console/dpo/erase", "/console/dpo/restrict", "/console/dpo/sweep"):
        response = api.post(path, data={**subject, "reason": "x"})
        assert response.status_code == 403, path
    assert "Nordlys Import AS" in str(client(node).get("/cases", headers={**node.officials.official,
                                                                          "X-Purpose": "check"}).json())


def test_signing_out_or_revoking_the_credential_ends_the_session(node):
    api = client(node)
    csrf = sign_in(api, node.officials.official)
    cookie = api.cookies.get("cmaa_console")
    assert api.post("/console/sign-out", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    replay = client(node)
    replay.cookies.set("cmaa_console", cookie, path="/console")
    response = replay.get("/console/cases", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/console/sign-in"

    api = client(node)
    sign_in(api, node.officials.colleague)
    token_id = node.officials.colleague["Authorization"][7:].split(".")[1]
    node.directory.revoke_credential(by="test", token_id=token_id, reason="lost laptop")
    assert api.get("/console/cases", follow_redirects=False).status_code == 303


def test_reading_a_case_asks_the_purpose_first_and_records_it(node):
    api = client(node)
    csrf = sign_in(api, node.officials.official)
    case = api.post("/cases", json=jp_no_request(), headers=node.officials.official).json()
    page = api.get(f"/console/cases/{case['id']}")
    assert "Why are you opening this case?" in page.text and "Nordlys" not in page.text
    dpo = node.directory.authenticate(node.officials.dpo["Authorization"][7:])
    before = node.dpo.activity(dpo, subject_id=None, official="no-hansen", limit=100)
    assert api.post(f"/console/cases/{case['id']}/purpose", data={"csrf": csrf, "purpose": "x"}).status_code == 422
    page = api.post(f"/console/cases/{case['id']}/purpose", data={"csrf": csrf, "purpose": "Preparing a reply"})
    assert page.status_code == 200 and "Nordlys Import AS" in page.text
    after = node.dpo.activity(dpo, subject_id=None, official="no-hansen", limit=100)
    assert [r["purpose"] for r in after[:len(after) - len(before)]] == ["Preparing a reply"]


def test_an_unexpected_error_is_a_page_without_a_stack_trace(node, monkeypatch):
    api = client(node)
    sign_in(api, node.officials.official)

    def broken(*args, **kwargs):
        raise RuntimeError("boom in /srv/secret/path.py")

    monkeypatch.setattr(node.cases, "list", broken)
    page = api.get("/console/cases")
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "Internal error" in page.text and "Traceback" not in page.text and "boom" not in page.text
    assert "script-src 'none'" in page.headers["content-security-policy"]
    refused = api.get("/console/cases/00000000-0000-0000-0000-000000000000")
    assert refused.status_code == 404 and "Traceback" not in refused.text


def test_the_dpos_search_travels_in_the_body_only(node):
    api = client(node)
    csrf = sign_in(api, node.officials.dpo)
    api.post("/cases", json=jp_no_request(), headers=node.officials.official)
    page = api.get("/console/dpo")
    assert re.search(r'<form method="post" action="/console/dpo/report"', page.text)
    report = api.post("/console/dpo/report", data={"csrf": csrf, "subject_id_scheme": "company_registration",
                                                   "subject_id_value": "NO-987654321"})
    assert report.status_code == 200 and "Nordlys Import AS" in report.text
    assert "NO-987654321" not in str(report.url)
    assert api.get("/console/dpo/report").status_code == 404  # no GET form of it to leak identifiers in a URL


def test_a_session_ends_when_unused_for_its_idle_time_or_past_its_lifetime(node):
    from service.console.session import ABSOLUTE_SECONDS, IDLE_SECONDS

    for field, age in (("seen", IDLE_SECONDS), ("created", ABSOLUTE_SECONDS)):
        api = client(node)
        sign_in(api, node.officials.official)
        session = api.app.state.console_sessions.get(api.cookies.get("cmaa_console"))
        assert api.get("/console/cases").status_code == 200
        setattr(session, field, getattr(session, field) - age - 1)  # as if that long had passed
        response = api.get("/console/cases", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/console/sign-in", field


KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')


def test_a_form_sent_twice_is_carried_out_once(node):
    """A double click or a browser's resend after a timeout: one case, the second answer is the first's."""
    api = client(node)
    csrf = sign_in(api, node.officials.official)
    page = api.get("/console/cases/new").text
    key = KEY.search(page).group(1)
    assert KEY.search(api.get("/console/cases/new").text).group(1) != key  # fresh for every form rendered
    content = jp_no_request()["content"]
    form = {"csrf": csrf, "idempotency_key": key, "agreement": "jp-no-2016", "partner_administration": "JP",
            "kind": "information", "language": "en", "channel": "written", "addressed_to": "jp-tanaka",
            "action_requested": content["action_requested"], "reason": content["reason"],
            "case_description": content["case_description"], "laws_involved": content["laws_involved"][0],
            "target_kind": "legal", "target_name": "Nordlys Import AS"}
    first = api.post("/console/cases/new", data=form, follow_redirects=False)
    again = api.post("/console/cases/new", data=form, follow_redirects=False)
    assert first.status_code == again.status_code == 303
    assert again.headers["location"] == first.headers["location"] and again.headers["idempotent-replayed"] == "true"
    cases = api.get("/cases", headers=node.officials.official).json()["data"]
    assert len(cases) == 1 and first.headers["location"].endswith(cases[0]["id"])
    # The same key for a different form is refused; another official's session does not share the key.
    changed = api.post("/console/cases/new", data={**form, "reason": "Another reason"}, follow_redirects=False)
    assert changed.status_code == 422 and changed.json()["type"].endswith("idempotency-key-reused")
    colleague = client(node)
    colleague_csrf = sign_in(colleague, node.officials.colleague)
    other = colleague.post("/console/cases/new", data={**form, "csrf": colleague_csrf}, follow_redirects=False)
    assert other.status_code == 303 and other.headers["location"] != first.headers["location"]
    # A page with errors changed nothing and is not kept (it may show what was typed): the retry runs.
    bad = {**form, "idempotency_key": KEY.search(api.get("/console/cases/new").text).group(1), "language": "xx"}
    for _ in range(2):
        refused = api.post("/console/cases/new", data=bad, follow_redirects=False)
        assert refused.status_code == 422 and "idempotent-replayed" not in refused.headers
    # Searches, reports and verifications change nothing: they carry no key (and nothing of them is kept).
    dpo = client(node)
    sign_in(dpo, node.officials.dpo)
    page = dpo.get("/console/dpo").text
    assert "Find a person" in page and len(KEY.findall(page)) == 1  # the sweep's, not the search's
    # A check-your-answers page gets a key of its own, not the one of the form it confirms.
    received = node.cases.record_received_request(
        node.directory.authenticate(node.officials.official["Authorization"][7:]), received_request())
    check = api.post(f"/console/cases/{received.id}/acknowledge", data={"csrf": csrf, "idempotency_key": "k-1"})
    assert check.status_code == 200 and KEY.findall(check.text)[-2:] != ["k-1", "k-1"]
    assert "k-1" not in KEY.findall(check.text)
