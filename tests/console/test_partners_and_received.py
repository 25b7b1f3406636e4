"""Console forms over raw HTTP, in process: an operator registers a partner and imports its signed
directory; an official records a request that reached the administration outside the exchange."""

from __future__ import annotations

from uuid import UUID

from tests.console.test_pages import principal, text
from tests.console.test_security import client, node, sign_in  # noqa: F401  (fixture)
from tests.factories import jp_no_request, make_node


def japan(tmp_path, clock):
    """Japan's node beside Norway's: a node key and one designated official to publish."""
    from service.node import initialise

    jp = make_node(f"sqlite:///{tmp_path / 'jp.db'}", tmp_path / "jp", clock, administration="JP",
                   administration_name="Japan Customs")
    initialise(jp)
    jp.designate_official(by="test", official_id="jp-sato", name="Sato", roles=["official"])
    return jp


def test_an_operator_registers_a_partner_with_its_errors_placed_on_the_fields(node):
    api = client(node)
    csrf = sign_in(api, node.officials.operator)
    page = api.get("/console/operations")
    assert 'action="/console/operations/partners"' in page.text and 'value="nordic-1981"' in page.text
    form = {"csrf": csrf, "partner_administration": "SE", "partner_name": "Swedish Customs",
            "partner_endpoint": "https://se.example", "partner_languages": "sv"}
    # The API's schema: no agreement chosen, the code in lower case.
    wrong = api.post("/console/operations/partners", data={**form, "partner_administration": "se"})
    assert wrong.status_code == 422
    assert 'href="#partner_agreements"' in wrong.text and 'href="#partner_administration"' in wrong.text
    assert 'id="partner_administration-error"' in wrong.text and 'value="Swedish Customs"' in wrong.text
    # The directory's rule, with its article: Sweden is no party to the JP-NO agreement.
    refused = api.post("/console/operations/partners", data={**form, "partner_agreements[]": ["jp-no-2016"]})
    assert refused.status_code == 422 and 'href="#partner_administration"' in refused.text
    assert "not a party to JP-NO" in refused.text and "JP-NO Art. 2" in refused.text
    assert 'value="jp-no-2016" checked' in refused.text
    assert "SE" not in node.directory.directory().partners
    done = api.post("/console/operations/partners", data={**form, "partner_agreements[]": ["nordic-1981"]})
    assert "Partner SE registered under nordic-1981" in done.text
    se = node.directory.directory().partners["SE"]
    assert (se["name"], se["agreements"], se["endpoint"], se["languages"]) == \
        ("Swedish Customs", ["nordic-1981"], "https://se.example", ["sv"])
    assert "Swedish Customs" in text(api.get("/console/operations"))


def test_an_operator_imports_a_partners_directory_pasted_or_uploaded_against_the_pinned_fingerprint(
        node, tmp_path, clock):
    jp = japan(tmp_path, clock)
    try:
        signed, pinned = jp.exchange.export_directory(), jp.exchange.node_fingerprint()
    finally:
        jp.close()
    api = client(node)
    csrf = sign_in(api, node.officials.operator)
    form = {"csrf": csrf, "import_administration": "JP", "import_directory": signed, "import_fingerprint": pinned}
    forged = api.post("/console/operations/partners/directory", data={**form, "import_fingerprint": "0" * 64})
    assert forged.status_code == 422 and 'href="#import_fingerprint"' in forged.text
    assert "does not match the pinned fingerprint" in forged.text
    own = node.exchange.export_directory()
    theirs = api.post("/console/operations/partners/directory",
                      data={**form, "import_directory": own, "import_fingerprint": node.exchange.node_fingerprint()})
    assert theirs.status_code == 422 and 'href="#import_directory"' in theirs.text and "not JP" in theirs.text
    empty = api.post("/console/operations/partners/directory", data={**form, "import_directory": ""})
    assert empty.status_code == 422 and 'href="#import_directory"' in empty.text
    assert not node.directory.directory().partners["JP"].get("directory")
    uploaded = api.post("/console/operations/partners/directory", data={**form, "import_directory": ""},
                        files={"import_directory_file": ("JP.directory.jws", signed.encode(), "application/jose")})
    assert "Directory of JP imported: 1 official(s) (jp-sato)" in uploaded.text
    held = node.directory.directory().partners["JP"]
    assert held["directory"]["fingerprint"] == pinned and "jp-sato" in held["officials"]
    again = api.post("/console/operations/partners/directory", data=form)  # the same one pasted: not newer
    assert again.status_code == 422 and 'class="error-summary"' in again.text


def test_an_official_records_a_request_received_by_telephone_and_nothing_is_sent(node):
    api = client(node)
    csrf = sign_in(api, node.officials.official)
    assert 'href="/console/cases/received"' in api.get("/console/cases").text
    page = api.get("/console/cases/received")
    assert "Record a request received outside the exchange" in page.text and 'id="addressed_to"' not in page.text
    content = jp_no_request()["content"]
    form = {"csrf": csrf, "agreement": "jp-no-2016", "partner_administration": "JP", "kind": "information",
            "language": "en", "channel": "oral", "action_requested": content["action_requested"],
            "case_description": content["case_description"], "laws_involved": content["laws_involved"][0],
            "target_kind": "legal", "target_name": "Nordlys Import AS"}
    missing = api.post("/console/cases/received", data=form)  # the treaty's rule, on the field, with its article
    assert missing.status_code == 422 and 'href="#reason"' in missing.text and "JP-NO Art. 11(4)(b)" in missing.text
    assert 'action="/console/cases/received"' in missing.text and 'value="oral" checked' in missing.text
    bad = api.post("/console/cases/received", data={**form, "reason": content["reason"], "language": "english"})
    assert bad.status_code == 422 and 'href="#language"' in bad.text  # the API's schema
    done = api.post("/console/cases/received", data={**form, "reason": content["reason"]}, follow_redirects=False)
    assert done.status_code == 303
    case_id = done.headers["location"].rsplit("/", 1)[1]
    case = node.cases.get(principal(node, node.officials.official), UUID(case_id))
    assert (case.side, case.status, case.channel) == ("requested", "received", "oral")
    assert case.confirmation_due_by is not None  # JP-NO Art. 11(3): confirmed in writing, tracked
    assert node.store.exchange.for_case(case_id) == []  # recorded here, nothing sent to the partner
    shown = text(api.get(done.headers["location"]))
    assert case.reference in shown and "recorded" in shown
    operator = client(node)
    sign_in(operator, node.officials.operator)
    assert operator.get("/console/cases/received").status_code == 403
