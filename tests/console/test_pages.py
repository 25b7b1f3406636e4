"""Console pages over raw HTTP, in process: the steps and tools the browser journeys do not walk."""

from __future__ import annotations

import re

from tests.console.test_security import client, node, sign_in  # noqa: F401  (fixture)
from tests.factories import jp_no_request, received_request

TAGS = re.compile(r"<[^>]+>")


def text(response) -> str:
    return re.sub(r"\s+", " ", TAGS.sub(" ", response.text))


def principal(node, headers):
    return node.directory.authenticate(headers["Authorization"][7:])


def received(node):
    return node.cases.record_received_request(principal(node, node.officials.official), received_request())


def test_refusing_goes_through_check_your_answers_and_shows_the_articles(node):
    api = client(node)
    csrf = sign_in(api, node.officials.official)
    case = received(node)
    form = {"csrf": csrf, "grounds[]": ["public_policy"], "refusal_reasons": "Contrary to public policy"}
    check = api.post(f"/console/cases/{case.id}/refuse", data=form)
    assert "Check your answers before you refuse" in check.text and "Contrary to public policy" in check.text
    assert node.cases.get(principal(node, node.officials.official), case.id).status == "received"  # not yet
    assert 'name="grounds[]" value="public_policy"' in check.text and 'name="confirmed" value="yes"' in check.text
    done = api.post(f"/console/cases/{case.id}/refuse", data={**form, "confirmed": "yes"},
                    follow_redirects=False)
    assert done.status_code == 303
    page = api.post(f"/console/cases/{case.id}/purpose", data={"csrf": csrf, "purpose": "Preparing a reply"})
    assert "Request refused" in page.text and "REFUSED" in page.text.upper()
    assert "JP-NO Art. 12(3)" in page.text and "JP-NO Art. 14(2)" in page.text
    # A refusal without reasons is the API's 422, as a page naming the field.
    again = received(node)
    refused = api.post(f"/console/cases/{again.id}/refuse", data={"csrf": csrf, "refusal_reasons": "x",
                                                                   "confirmed": "yes"})
    assert refused.status_code == 422 and "grounds" in refused.text


def test_postponing_and_the_cases_filters(node):
    api = client(node)
    csrf = sign_in(api, node.officials.official)
    case = received(node)
    api.post(f"/console/cases/{case.id}/acknowledge", data={"csrf": csrf})
    form = {"csrf": csrf, "postpone_reasons": "Interferes with an ongoing investigation", "until": "2027-01-31"}
    assert "Check your answers" in api.post(f"/console/cases/{case.id}/postpone", data=form).text
    api.post(f"/console/cases/{case.id}/postpone", data={**form, "confirmed": "yes"})
    assert node.cases.get(principal(node, node.officials.official), case.id).status == "postponed"
    mine = api.post("/cases", json=jp_no_request(), headers=node.officials.official).json()
    listed = text(api.get("/console/cases"))
    assert case.reference in listed and mine["reference"] in listed
    only = text(api.get("/console/cases", params={"status": "postponed"}))
    assert case.reference in only and mine["reference"] not in only
    by_side = text(api.get("/console/cases", params={"side": "requesting", "partner": "JP",
                                                      "agreement": "jp-no-2016", "kind": "information"}))
    assert mine["reference"] in by_side and case.reference not in by_side
    searched = text(api.get("/console/cases", params={"reference": mine["reference"][-8:].lower()}))
    assert mine["reference"] in searched and case.reference not in searched
    assert "No case matches" in text(api.get("/console/cases", params={"overdue": "1"}))


def test_an_oral_request_shows_its_written_confirmation_due(node):
    api = client(node)
    csrf = sign_in(api, node.officials.official)
    body = jp_no_request()
    content = body["content"]
    form = {"csrf": csrf, "agreement": "jp-no-2016", "partner_administration": "JP", "kind": "information",
            "language": "en", "channel": "oral", "addressed_to": "jp-tanaka",
            "action_requested": content["action_requested"], "reason": content["reason"],
            "case_description": content["case_description"], "laws_involved": content["laws_involved"][0],
            "target_kind": "legal", "target_name": "Nordlys Import AS"}
    page = api.post("/console/cases/new", data=form)
    assert page.status_code == 200 and "oral" in page.text and "written confirmation due" in page.text
    assert "JP-NO Art. 11(3)" in page.text
    wrong = api.post("/console/cases/new", data={**form, "language": "xx", "kind": "recovery_of_claim"})
    assert wrong.status_code == 422 and 'href="#kind"' in wrong.text


def test_the_dpo_restricts_and_lifts_rectifies_and_sweeps(node):
    api = client(node)
    csrf = sign_in(api, node.officials.dpo)
    case = api.post("/cases", json=jp_no_request(), headers=node.officials.official).json()
    who = {"csrf": csrf, "subject_id_scheme": "company_registration", "subject_id_value": "NO-987654321"}
    restricted = api.post("/console/dpo/restrict", data={**who, "reason": "Accuracy contested by the company"})
    assert "Processing restricted" in restricted.text
    official = client(node)
    official_csrf = sign_in(official, node.officials.official)
    page = official.post(f"/console/cases/{case['id']}/purpose", data={"csrf": official_csrf, "purpose": "Work"})
    assert "restricted by the data protection officer" in page.text and "Nordlys Import AS" not in page.text
    report = api.post("/console/dpo/report", data=who)
    subject_id = re.search(r'name="subject_id" value="([0-9a-f]+)"', report.text).group(1)
    assert "Accuracy contested" in report.text
    assert "Restriction lifted" in api.post("/console/dpo/lift", data={"csrf": csrf, "subject_id": subject_id}).text
    page = official.get(f"/console/cases/{case['id']}")
    assert "Nordlys Import AS" in page.text
    fixed = api.post("/console/dpo/rectify", data={**who, "case_id": case["id"], "corrected_kind": "legal",
                                                   "corrected_name": "Nordlys Import ASA",
                                                   "corrected_id_scheme": "company_registration",
                                                   "corrected_id_value": "NO-987654321",
                                                   "reason": "Registered name"})
    assert "Rectified in case" in fixed.text
    swept = api.post("/console/dpo/sweep", data={"csrf": csrf})
    assert "Retention sweep done: 0 key(s)" in swept.text
    activity = text(api.get("/console/dpo/activity", params={"action": "restriction"}))
    assert "restriction lifted" in activity and "read case (console)" not in activity


def test_an_operator_designates_issues_and_revokes_and_the_credential_works_until_revoked(node):
    api = client(node)
    csrf = sign_in(api, node.officials.operator)
    done = api.post("/console/operations/officials", data={"csrf": csrf, "official_id": "no-larsen",
                                                           "name": "Liv Larsen", "roles[]": ["official"]})
    assert "Designated no-larsen (official)" in done.text
    assert api.post("/console/operations/officials", data={"csrf": csrf, "official_id": "no-x",
                                                           "name": "X"}).status_code == 422
    issued = api.post("/console/operations/officials/no-larsen/credential", data={"csrf": csrf})
    token = re.search(r"<pre>(cmaa\.[^<]+)</pre>", issued.text).group(1)
    larsen = client(node)
    sign_in(larsen, {"Authorization": f"Bearer {token}"})
    assert larsen.get("/console/cases").status_code == 200
    rotated = api.post("/console/operations/officials/no-larsen/keys", data={"csrf": csrf})
    assert "Keys of no-larsen rotated" in rotated.text
    revoked = api.post("/console/operations/credentials/revoke", data={"csrf": csrf, "token_id": token.split(".")[1],
                                                                       "reason": "left"})
    assert "revoked" in revoked.text
    assert larsen.get("/console/cases", follow_redirects=False).status_code == 303


def test_the_auditor_downloads_a_case_bundle_and_verifies_against_an_uploaded_checkpoint(node):
    from adapters.bundle import verify_bundle

    api = client(node)
    csrf = sign_in(api, node.officials.auditor)
    case = api.post("/cases", json=jp_no_request(), headers=node.officials.official).json()
    node.audit.seal_and_checkpoint()
    held = node.audit.latest().note
    bundle = api.post("/console/audit/bundle", data={"csrf": csrf, "case": case["reference"]})
    assert bundle.headers["content-disposition"].startswith("attachment; filename=\"cmaa-bundle-NO-")
    assert bundle.json()["scope"] == {"case_id": case["id"]} and verify_bundle(bundle.json(), (held,)).ok
    assert api.post("/console/audit/bundle", data={"csrf": csrf, "since": "yesterday"}).status_code == 422
    page = api.post("/console/audit/verify", data={"csrf": csrf},
                    files={"checkpoint_file": ("checkpoint.txt", held.encode(), "text/plain")})
    assert '<h2 id="verdict">VERIFIED</h2>' in page.text
    assert re.search(r"<li>(\d+) of \1 event\(s\) re-hashed</li>", page.text)  # the progress, streamed
    forged = held.replace("\n\n", "\nforged\n\n", 1)
    page = api.post("/console/audit/verify", data={"csrf": csrf, "checkpoint": forged})
    assert "NOT VERIFIED" in page.text and "manipulation" in page.text
    empty = api.post("/console/audit/verify", data={"csrf": csrf, "checkpoint": ""})
    assert empty.status_code == 422 and 'href="#checkpoint"' in empty.text


def test_a_verification_that_cannot_run_says_so_without_a_trace(node, monkeypatch):
    from service.console import auditors

    api = client(node)
    csrf = sign_in(api, node.officials.auditor)

    def broken(ctx, *args):
        raise RuntimeError("disk on fire at /srv/secret")

    monkeypatch.setattr(auditors, "_bundle", broken)
    page = api.post("/console/audit/verify", data={"csrf": csrf, "checkpoint": "cmaa-exchange/NO\n1\nAAAA\n"})
    assert "Could not verify" in page.text and "disk on fire" not in page.text and "Traceback" not in page.text
    assert page.text.rstrip().endswith("</html>")


def _step(api, csrf, path: str, form: dict) -> str:
    """A form, its check-your-answers page, then the step; the case page it leads to."""
    check = api.post(path, data={"csrf": csrf, **form})
    assert check.status_code == 200 and "Check your answers" in check.text, check.text[:500]
    done = api.post(path, data={"csrf": csrf, **form, "confirmed": "yes"}, follow_redirects=False)
    assert done.status_code == 303, done.text[:500]
    return text(api.get(done.headers["location"]))


def test_forwarding_consultation_written_confirmation_and_closure_are_in_the_console(node):
    api = client(node)
    csrf = sign_in(api, node.officials.official)
    api.post(f"/console/cases/{received(node).id}/purpose", data={"csrf": csrf, "purpose": "Work"})
    case = received(node)
    api.post(f"/console/cases/{case.id}/purpose", data={"csrf": csrf, "purpose": "Work"})
    page = api.get(f"/console/cases/{case.id}").text
    assert "Forward to the competent authority" not in page and "Close the case" not in page  # not yet: received
    api.post(f"/console/cases/{case.id}/acknowledge", data={"csrf": csrf, "confirmed": "yes"})
    page = api.get(f"/console/cases/{case.id}").text
    assert "Forward to the competent authority" in page and "JP-NO Art. 12(2)" in page
    assert "Consult the requesting administration" in page and "Close the case" not in page  # unanswered
    after = _step(api, csrf, f"/console/cases/{case.id}/consult",
                  {"subject": "extraordinary_costs", "consult_message": "The audit will cost JPY 2m; agree?"})
    assert "Consultation sent" in after and "in consultation" in after and "ConsultationOpened" in after
    missing = api.post(f"/console/cases/{case.id}/forward", data={"csrf": csrf, "authority": ""})
    assert missing.status_code == 422 and "authority: String should have at least 1 character" in text(missing)
    other = received(node)
    api.post(f"/console/cases/{other.id}/purpose", data={"csrf": csrf, "purpose": "Work"})
    api.post(f"/console/cases/{other.id}/acknowledge", data={"csrf": csrf, "confirmed": "yes"})
    after = _step(api, csrf, f"/console/cases/{other.id}/forward",
                  {"authority": "Tokyo Customs Investigation", "forward_reason": "They hold the records"})
    assert "Forwarded to Tokyo Customs Investigation" in after and "Close the case" in after
    after = _step(api, csrf, f"/console/cases/{other.id}/close", {"close_reason": "Forwarded; nothing more here"})
    assert "Case closed" in after and "closed" in after and "Close the case" not in after
    # The requesting side confirms its oral request in writing (JP-NO Art. 11(3)), once.
    oral = api.post("/cases/oral", json=jp_no_request(), headers=node.officials.official).json()
    api.post(f"/console/cases/{oral['id']}/purpose", data={"csrf": csrf, "purpose": "Work"})
    assert "Confirm the oral request in writing" in api.get(f"/console/cases/{oral['id']}").text
    after = _step(api, csrf, f"/console/cases/{oral['id']}/written-confirmation",
                  {"confirmation_reference": "Letter NO-2026-77"})
    assert "Written confirmation sent" in after and "Confirm the oral request in writing" not in after
    written = api.post("/cases", json=jp_no_request(), headers=node.officials.official).json()
    api.post(f"/console/cases/{written['id']}/purpose", data={"csrf": csrf, "purpose": "Work"})
    assert "Confirm the oral request in writing" not in api.get(f"/console/cases/{written['id']}").text
