"""Journeys through the console of two real nodes (Norway, Japan), in Chromium."""

from __future__ import annotations

import re
import time

from playwright.sync_api import expect

from tests.console.conftest import restore_an_older_backup_of_japan
from tests.factories import jp_no_request


def reload_until(person, predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        person.page.reload()
        if predicate(person.page.content()):
            return person.page
        time.sleep(0.3)
    raise AssertionError(f"{person.page.url}: condition not met within {timeout} s")


def open_case(person, reference: str | None = None):
    """From the cases list to the case page, giving the purpose the read is recorded with."""
    page = person.go("/cases")
    link = page.get_by_role("link", name=re.compile(reference or r"-2026-"))
    link.first.click()
    if page.locator("h1").inner_text().startswith("Why"):
        person.check("purpose")
        page.get_by_label("Working on the case").check()
        page.click("button:has-text('Open the case')")
    return page


def fill_request(page, **skip):
    body = jp_no_request()
    content = body["content"]
    page.select_option("#partner_administration", "JP")
    page.select_option("#kind", "information")
    if page.locator("#addressed_to").count():  # not on the form for a request received outside the exchange
        page.fill("#addressed_to", "jp-tanaka")
    page.fill("#action_requested", content["action_requested"])
    if "reason" not in skip:
        page.fill("#reason", content["reason"])
    page.fill("#case_description", content["case_description"])
    page.fill("#laws_involved", "\n".join(content["laws_involved"]))
    page.select_option("#target_kind", "legal")
    page.fill("#target_name", content["targets"][0]["name"])
    page.fill("#target_id_scheme", "company_registration")
    page.fill("#target_id_value", content["targets"][0]["identifiers"][0]["value"])


def summary_focused(page) -> bool:
    """The error summary takes the focus (autofocus), so a keyboard or screen-reader user lands on it."""
    for _ in range(50):
        if page.evaluate("document.activeElement.className") == "error-summary":
            return True
        time.sleep(0.1)
    return False


def test_a_request_made_in_norway_is_answered_in_japan_then_consent_and_disclosure(person):
    hansen = person("NO", "no-hansen")
    hansen.check("start-official")
    page = hansen.page
    page.keyboard.press("Tab")  # the keyboard's first stop skips to the content
    assert page.evaluate("document.activeElement.textContent") == "Skip to main content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page = hansen.go("/cases/new")
    hansen.check()
    fill_request(page, reason=True)
    page.click("button:has-text('Send the request')")
    # The treaty's refusal lands on the field, with its article, and the summary (focused) links to it.
    assert summary_focused(page)
    summary = page.locator(".error-summary a[href='#reason']")
    assert "JP-NO Art. 11(4)(b)" in summary.inner_text()
    assert page.locator("#reason-error").is_visible()
    hansen.check("request-error")
    summary.click()
    assert page.evaluate("document.activeElement.id") == "reason"
    page.keyboard.type(jp_no_request()["content"]["reason"])  # typed where the focus landed: keyboard only
    page.click("button:has-text('Send the request')")
    assert "Request NO-2026-" in page.locator(".banner").inner_text()
    reference = re.search(r"NO-2026-[0-9A-F]{8}", page.locator("h1").inner_text()).group(0)
    reload_until(hansen, lambda html: "EnvelopeDelivered" in html)  # the courier delivered, with a receipt
    assert "signed receipt held" in page.content() and "JP-NO Art. 11(2)" in page.content()
    hansen.check("case-requesting")

    tanaka = person("JP", "jp-tanaka")
    page = tanaka.go("/cases")
    tanaka.check("cases-list")
    page = open_case(tanaka, reference)
    assert "received" in page.locator("h1").inner_text().lower()
    assert "Nordlys Import AS" in page.content()
    page.click("button:has-text('Acknowledge')")
    assert "Acknowledged" in page.locator(".banner").inner_text()
    page.fill("#item_title", "Export declaration EX-2026-001")
    page.fill("#item_content", "Declared value JPY 1,200,000")
    page.fill("#item_use_conditions", "Customs use only")
    page.select_option("#item_onward", "no")
    page.click("form[action$='/reply'] button")
    assert page.locator("h1").inner_text().startswith("Check your answers")
    tanaka.check("check-your-answers")
    page.click("button:has-text('Send the reply')")
    assert "Reply sent" in page.locator(".banner").inner_text()
    tanaka.check("case-requested")

    page = reload_until(hansen, lambda html: "PartnerStepReceived" in html and "Customs use only" in html)
    assert "replied" in page.locator("h1").inner_text().lower()
    item_id = page.locator("table code").first.inner_text()
    # A disclosure without its basis is refused, with the article, and the attempt is recorded.
    page.get_by_label(item_id).last.check()
    page.fill("#disclose_purpose", "Prosecution of the importer")
    page.select_option("#basis", "consent")
    page.fill("#disclose_recipient", "Oslo police district")
    page.select_option("#recipient_kind", "law_enforcement")
    page.click("form[action$='/disclosure'] button")
    page.click("button:has-text('Record the disclosure')")
    assert page.locator("h1").inner_text().startswith("Refused")
    problem = page.locator(".problem").inner_text()
    assert "JP-NO Art. 7(2)" in problem and "none was named" in problem and "consent_id" in problem
    hansen.check("disclosure-refused")
    page.click("text=Back to the case")
    assert "Refused disclosure attempts" in page.content()
    page.locator("form[action$='/consent-request']").get_by_label(item_id).check()
    page.select_option("#consent_action", "disclosure")
    page.fill("#consent_recipient", "Oslo police district")
    page.fill("#consent_purpose", "Prosecution of the importer")
    page.click("form[action$='/consent-request'] button")
    page.click("button:has-text('Ask for consent')")
    assert "Consent requested" in page.locator(".banner").inner_text()

    page = reload_until(tanaka, lambda html: "Consent request " in html)
    page.fill("#conditions-1", "Only for this prosecution")
    page.click("button[value='grant']")
    page.click("button:has-text('Grant consent')")
    assert "granted" in page.locator(".banner").inner_text()

    page = reload_until(hansen, lambda html: "granted" in html)
    consent_id = page.locator("select#consent_id option").nth(1).get_attribute("value")
    form = page.locator("form[action$='/disclosure']")
    form.get_by_label(item_id).check()
    page.fill("#disclose_purpose", "Prosecution of the importer")
    page.select_option("#basis", "consent")
    page.select_option("#consent_id", consent_id)
    page.fill("#disclose_recipient", "Oslo police district")
    page.select_option("#recipient_kind", "law_enforcement")
    page.click("form[action$='/disclosure'] button")
    page.click("button:has-text('Record the disclosure')")
    assert "Disclosure recorded" in page.locator(".banner").inner_text()
    assert "Oslo police district" in page.locator("main").inner_text()
    hansen.check("case-disclosed")

    # An official's session cannot reach the DPO's or the operator's pages; signing out ends it.
    for path in ("/dpo", "/operations", "/audit"):
        page = hansen.go(path)
        assert page.locator("h1").inner_text() == "Not permitted"
        assert "this needs the" in page.locator(".problem").inner_text()
        hansen.check()
    page = hansen.go("/")
    page.click("button:has-text('Sign out')")
    assert page.locator("h1").inner_text() == "Sign in"
    page = hansen.go("/cases")
    assert page.locator("h1").inner_text() == "Sign in"


def test_an_official_records_a_request_that_came_by_post(person):
    hansen = person("NO", "no-hansen")
    page = hansen.go("/cases")
    page.click("text=Record a request received outside the exchange")
    hansen.check("request-received")
    page.select_option("#partner_administration", "JP")
    fill_request(page, reason=True)
    page.click("button:has-text('Record the request')")
    assert summary_focused(page) and "JP-NO Art. 11(4)(b)" in page.locator(".error-summary").inner_text()
    hansen.check("request-received-error")
    page.fill("#reason", jp_no_request()["content"]["reason"])
    page.click("button:has-text('Record the request')")
    assert "recorded" in page.locator(".banner").inner_text() and "received" in page.locator("h1").inner_text().lower()
    hansen.check()


def in_process(nodes, administration: str):
    """The same store opened beside the running node, as `cmaa` on its host would."""
    from service.node import build_node
    from tests.servers import _settings

    return build_node(_settings(nodes.envs[administration]))


def test_an_operator_sees_the_node_and_clears_a_partner_alarm(person, nodes, tmp_path):
    restore_an_older_backup_of_japan(nodes, tmp_path)  # a real fork, seen by Norway's witness
    operator = person("NO", "operator")
    operator.go("/operations")
    page = reload_until(operator, lambda html: "history alarm" in html)
    chart = page.locator("svg[role=img]")  # the outbox per partner, drawn on the server
    assert chart.locator("title").first.text_content() == "Envelopes per partner"
    assert chart.locator("text").first.text_content() == "JP"
    reason = page.locator("main table").nth(1).inner_text()
    assert re.search(r"leaves.*(forked|truncated or rolled back|rewritten)", reason), reason
    for check in ("store", "keys", "sealer", "outbox"):
        expect(page.get_by_role("cell", name=check, exact=True)).to_have_count(1)
    operator.check("operations-alarm")
    page.click("button:has-text('Clear the alarm for JP')")  # without saying how: refused, nothing changed
    assert page.locator("h1").inner_text() == "Invalid input" and "resolution" in page.content()
    operator.check()
    page = operator.go("/operations")
    page.fill("#resolution-JP", "Checked with Japan Customs by phone: their store was restored from backup")
    page.click("button:has-text('Clear the alarm for JP')")
    assert "History alarm for JP cleared" in page.locator(".banner").inner_text()
    assert "history alarm" not in page.locator("table").nth(1).inner_text().lower()
    operator.check("operations")
    node = in_process(nodes, "NO")
    try:
        assert not node.directory.directory().partners["JP"].get("alarm")
    finally:
        node.close()

    # Register a partner: the errors on the fields, the summary focused; then Japan's directory, uploaded.
    page.click("button:has-text('Register the partner')")
    assert summary_focused(page) and page.locator("#partner_agreements-error").is_visible()
    operator.check("operations-partner-error")
    page.locator(".error-summary a[href='#partner_administration']").click()
    assert page.evaluate("document.activeElement.id") == "partner_administration"
    page.keyboard.type("SE")
    page.fill("#partner_name", "Swedish Customs")
    page.get_by_label(re.compile("^Nordic")).check()
    page.click("button:has-text('Register the partner')")
    assert "Partner SE registered under nordic-1981" in page.locator(".banner").inner_text()
    japan = in_process(nodes, "JP")
    try:
        (tmp_path / "JP.jws").write_text(japan.exchange.export_directory())
        pinned = japan.exchange.node_fingerprint()
    finally:
        japan.close()
    page.select_option("#import_administration", "JP")
    page.set_input_files("#import_directory_file", str(tmp_path / "JP.jws"))
    page.fill("#import_fingerprint", pinned)
    page.click("button:has-text('Import the directory')")
    assert "Directory of JP imported: 1 official(s) (jp-tanaka)" in page.locator(".banner").inner_text()
    operator.check()


def verify(auditor, note: str):
    page = auditor.go("/audit")
    page.fill("#checkpoint", note)
    page.click("button:has-text('Verify the log')")
    return page


def test_the_auditor_verifies_the_dpo_reports_and_erases_and_the_log_still_verifies_until_tampered(person, nodes):
    import json

    from adapters.bundle import verify_bundle

    hansen = person("NO", "no-hansen")
    page = hansen.go("/cases")
    if page.locator("tbody a").count() == 0:  # run alone: make the case this journey is about
        page = hansen.go("/cases/new")
        fill_request(page)
        page.click("button:has-text('Send the request')")
    reference = re.search(r"NO-2026-[0-9A-F]{8}", hansen.go("/cases").locator("tbody a").first.inner_text()).group(0)
    hansen = person("NO", "no-hansen")  # a new session: asked why, and the read is recorded with the answer
    assert "Nordlys Import AS" in open_case(hansen, reference).content()

    auditor = person("NO", "no-audit")
    page = reload_until(auditor, lambda html: "leaves, root" in html) if "leaves, root" not in \
        auditor.go("/audit").content() else auditor.page
    auditor.check("audit")
    held = page.locator("details pre").first.text_content()
    assert held.startswith("cmaa-exchange/NO\n")
    page = verify(auditor, held)
    assert page.locator("#verdict").inner_text() == "VERIFIED"
    assert re.fullmatch(r"(\d+) of \1 event\(s\) re-hashed", page.locator(".progress-log li").last.inner_text())
    auditor.check("audit-verified")
    page = auditor.go("/audit")
    with page.expect_download() as download:
        page.click("button:has-text('Download the bundle')")
    bundle = json.loads(open(download.value.path()).read())
    assert verify_bundle(bundle, (held,)).ok  # what `cmaa audit verify --against` would say offline
    page.fill("#case", reference)
    page.fill("#purpose", "Annual audit of information control")
    page.click("button:has-text('Replay')")
    assert page.locator("h1").inner_text().startswith(f"Case {reference} as of")
    expect(page.get_by_role("heading", name="Findings")).to_have_count(1)
    auditor.check("audit-replay")

    dpo = person("NO", "no-dpo")
    page = dpo.go("/dpo")
    dpo.check("dpo")
    page.fill("#subject_id_scheme", "company_registration")
    page.fill("#subject_id_value", "NO-987654321")
    page.click("button:has-text('Find and show the access report')")
    assert page.locator("h1").inner_text() == "Personal data held: access report"
    assert "Nordlys Import AS" in page.content() and reference in page.content()
    assert "NO-987654321" not in page.url and "Nordlys" not in page.url
    dpo.check("access-report")
    page.emulate_media(media="print")  # the print stylesheet: the report alone, no navigation or forms
    assert not page.locator("header").is_visible() and not page.locator("form").first.is_visible()
    assert page.locator("h1").is_visible()
    dpo.check("access-report-print")
    page.pdf(path=str(download.value.path()) + ".pdf")  # prints without error
    page.emulate_media(media="screen")

    page.fill("#rule", "GDPR Art. 17, request DPO-2026-14")
    page.click("button:has-text('Continue to erasure')")
    assert page.locator("h1").inner_text().startswith("Are you sure")
    dpo.check("erase-confirm")
    page.click("button:has-text('Erase the data')")  # not confirmed: refused, placed on the checkbox
    expect(page.locator(".error-summary a[href='#understood']")).to_have_count(1)
    page.check("#understood")
    page.click("button:has-text('Erase the data')")
    assert "Erased:" in page.locator(".banner").inner_text()
    page = dpo.go("/dpo/activity?official=no-hansen")
    assert "read case (console)" in page.content() and "Working on the case" in page.content()
    dpo.check("activity-log")

    page = open_case(hansen, reference)
    assert "[erased on" in page.content() and "GDPR Art. 17" in page.content()
    assert "Nordlys Import AS" not in page.content()
    hansen.check("case-erased")

    page = verify(auditor, held)  # the erasure destroyed keys, not events: the log still verifies
    assert page.locator("#verdict").inner_text() == "VERIFIED"

    node = in_process(nodes, "NO")
    try:  # someone with database access edits one stored event
        store, log = node.store, node.audit.log
        first = store.recorder.select_notifications(1, 1)[0]
        table = f"{log.prefix}cmaa_events" if log.postgres else "stored_events"
        with store.recorder.datastore.transaction(commit=True) as cursor:
            cursor.execute(log.sql(f"UPDATE {table} SET state = ? WHERE originator_id = ? AND originator_version = ?"),
                           (first.state[:-1] + bytes([first.state[-1] ^ 1]),
                            first.originator_id if log.postgres else first.originator_id.hex,
                            first.originator_version))
    finally:
        node.close()
    page = verify(auditor, held)
    assert page.locator("#verdict").inner_text() == "NOT VERIFIED"
    expect(page.get_by_role("cell", name="manipulation").first).to_be_visible()
    auditor.check("audit-tampered")


def test_every_page_a_form_leads_to_passes_the_accessibility_check(person, nodes):
    """The pages reached only by sending a form — each step's Check your answers, the credential shown
    once, a refusal page — get the same axe check in the browser as the pages one navigates to."""
    import httpx

    made = httpx.post(f"{nodes.no}/cases", json=jp_no_request(),
                      headers={"Authorization": f"Bearer {nodes.tokens['no-hansen']}"})
    assert made.status_code == 201, made.text
    reference = made.json()["reference"]
    tanaka = person("JP", "jp-tanaka")
    page = reload_until(tanaka, lambda html: reference in html) if reference not in tanaka.go(
        "/cases").content() else tanaka.page
    page = open_case(tanaka, reference)
    case_page = page.url

    def check_page(form: str, fill) -> None:
        tanaka.page.goto(case_page)
        fill(tanaka.page)
        tanaka.page.click(f"form[action$='/{form}'] button")
        assert tanaka.page.locator("h1").inner_text().startswith("Check your answers"), form
        tanaka.check(f"check-{form}")

    check_page("refuse", lambda p: (p.locator("input[name='grounds[]']").first.check(),
                                    p.fill("#refusal_reasons", "Contrary to public policy")))
    tanaka.page.goto(case_page)
    tanaka.page.click("button:has-text('Acknowledge')")
    check_page("postpone", lambda p: p.fill("#postpone_reasons", "Investigation under way"))
    check_page("forward", lambda p: (p.fill("#authority", "Tokyo Customs"), p.fill("#forward_reason", "Theirs")))
    check_page("consult", lambda p: (p.select_option("#subject", "extraordinary_costs"),
                                     p.fill("#consult_message", "This costs JPY 2m; agree?")))
    tanaka.page.goto(case_page)
    tanaka.page.click("form[action$='/forward'] button")  # nothing filled in: the refusal page
    assert tanaka.page.locator("h1").inner_text() == "Invalid input"
    tanaka.check("step-invalid")

    operator = person("NO", "operator")
    page = operator.go("/operations")
    page.click("form[action$='/officials/no-audit/credential'] button")
    assert "cmaa." in page.locator("main").inner_text()  # the credential, shown once
    operator.check("credential-issued")
