"""Personal data between two nodes: sealed per subject, found by the DPO, restricted,
rectified, erased by key destruction and by the retention sweep — while the audit
chain still verifies (JP-NO Art. 9(2)). Runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from adapters.bundle import export_bundle, verify_bundle
from adapters.keystore import public_jwk
from tests.exchange.test_two_nodes import jp_case_id
from tests.exchange_helpers import bearer
from tests.factories import jp_no_request

PERSON = {"kind": "natural", "name": "Ingrid Solberg", "date_of_birth": "1980-04-12", "nationality": "NO",
          "identifiers": [{"scheme": "passport", "value": "NO1234567"}]}
OTHER = {"kind": "natural", "name": "Per Kvalheim", "date_of_birth": "1975-01-30",
         "identifiers": [{"scheme": "passport", "value": "NO7654321"}]}
QUERY = {"subject": {"identifiers": [{"scheme": "Passport", "value": "no 123 4567"}]}}  # normalised: same person
FREE_TEXT = "Solberg carried undeclared watches through Gardermoen"
ITEM_TEXT = "Passport copy and travel history of Solberg"
PLAINTEXTS = ("Ingrid Solberg", "NO1234567", FREE_TEXT, ITEM_TEXT, "Gardermoen")


def person_item(days: int = 1825, text: str = ITEM_TEXT) -> dict:
    return {"title": "Traveller record", "content": text, "personal_data": True,
            "restrictions": {"retention_days": days}}


def dpo(side) -> dict[str, str]:
    if "dpo" not in side.node.directory.directory().officials:
        side.node.designate_official(by="test", official_id="dpo", name="DPO", roles=["dpo"])
    return bearer(side.node.directory.issue_credential(by="test", official_id="dpo"))


def request_on(person: dict, **content) -> dict:
    body = jp_no_request(targets=[person], **content)
    body["content"]["case_description"] = FREE_TEXT
    return body


def opened(no, jp, body) -> tuple[str, str]:
    """NO asks JP about ``body``'s targets; JP acknowledges."""
    response = no.api.post("/cases", json=body, headers=no.official)
    assert response.status_code == 201, response.text
    case_id = response.json()["id"]
    assert no.deliver() == 1
    theirs = str(jp_case_id(case_id))
    assert jp.api.post(f"/cases/{theirs}/acknowledgement", headers=jp.official).status_code == 200
    jp.deliver()
    return case_id, theirs


def replied(no, jp, case_id, theirs, *items) -> None:
    response = jp.api.post(f"/cases/{theirs}/replies", headers=jp.official, json={"items": list(items)})
    assert response.status_code == 200, response.text
    assert jp.deliver() == 1
    assert no.api.get(f"/cases/{case_id}", headers=no.official).json()["status"] == "replied"


def raw_store_text(side, tmp_path: Path) -> bytes:
    """Every byte the node's database holds: the SQLite files, or every row of every PostgreSQL table."""
    url = side.node.store.url
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    base, schema = url.split("?schema=")
    chunks = []
    with psycopg.connect(base) as conn:
        tables = conn.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                              (schema,)).fetchall()
        for (table,) in tables:
            for (row,) in conn.execute(f'SELECT t::text FROM "{schema}"."{table}" t'):
                chunks.append(row.encode())
            for (row,) in conn.execute(f'SELECT encode(convert_to(t::text, \'UTF8\'), \'escape\') '
                                       f'FROM "{schema}"."{table}" t'):
                chunks.append(row.encode())
    return b"\n".join(chunks)


def leaks(side, tmp_path) -> list[str]:
    raw = raw_store_text(side, tmp_path)
    return [p for p in PLAINTEXTS if p.encode() in raw]


def bundle(side) -> dict:
    side.node.audit.seal_and_checkpoint()
    return export_bundle(side.node.store, side.node.audit.log, public_jwk(side.node.exchange.keystore.node_signing_key()))


def test_the_store_holds_no_personal_data_in_plaintext_on_either_node(nodes, tmp_path):
    no, jp = nodes
    case_id, theirs = opened(no, jp, request_on(PERSON))
    replied(no, jp, case_id, theirs, person_item())
    mine = no.api.get(f"/cases/{case_id}", headers=no.official).json()
    assert mine["content"]["targets"][0]["name"] == "Ingrid Solberg"
    assert mine["items"][0]["content"] == ITEM_TEXT
    assert leaks(no, tmp_path) == [] and leaks(jp, tmp_path) == []


def test_the_access_report_lists_every_case_in_both_directions(nodes):
    no, jp = nodes
    ours, theirs = opened(no, jp, request_on(PERSON))
    replied(no, jp, ours, theirs, person_item())
    # JP asks NO about the same person: a case NO received.
    body = jp_no_request(targets=[{**PERSON, "identifiers": [{"scheme": "passport", "value": "NO1234567"}]}],
                         partner_administration="NO", addressed_to=["no-hansen"])
    received = jp.api.post("/cases", json=body, headers=jp.official)
    assert received.status_code == 201, received.text
    assert jp.deliver() == 1
    # A case on someone else: not in the report.
    opened(no, jp, request_on(OTHER))
    report = no.api.post("/dpo/access-reports", json=QUERY, headers=dpo(no))
    assert report.status_code == 200, report.text
    cases = {c["case_id"]: c for c in report.json()["cases"]}
    assert len(cases) == 2 and ours in cases
    asked = cases[ours]
    assert asked["agreement"] == "jp-no-2016" and asked["partner_administration"] == "JP"
    by_path = {h["path"]: h for h in asked["held"]}
    assert by_path["content.targets.0"]["value"]["name"] == "Ingrid Solberg"
    assert by_path["content.targets.0"]["provided_by"] == "NO"
    assert by_path["content.case_description"]["value"] == FREE_TEXT
    reply_items = [h for h in asked["held"] if h["event"] == "PartnerStepReceived"]
    assert {h["value"] for h in reply_items} == {"Traveller record", ITEM_TEXT}
    assert {h["provided_by"] for h in reply_items} == {"JP"}
    assert all(h["kept_until"] and h["erased"] is None for h in asked["held"])
    assert [s["to"] for s in asked["sent_to_partner"]] == ["JP"] and asked["sent_to_partner"][0]["kind"] == "request"
    [other] = [c for c in cases.values() if c["case_id"] != ours]
    assert other["side"] == "requested" and {h["provided_by"] for h in other["held"]} == {"JP"}
    # The report itself was recorded, with its purpose.
    activity = no.api.get("/dpo/activity", params={"subject_id": report.json()["subject_id"]}, headers=dpo(no))
    assert "access report" in {a["action"] for a in activity.json()["data"]}


def test_erasure_leaves_no_readable_byte_and_the_chain_still_verifies(nodes, tmp_path):
    no, jp = nodes
    case_id, theirs = opened(no, jp, request_on(PERSON))
    replied(no, jp, case_id, theirs, person_item())
    before = bundle(no)
    held = (before["checkpoint"]["note"],) if isinstance(before.get("checkpoint"), dict) else ()
    keys_before = no.node.vault.keys(case_id=case_id)
    assert keys_before and all(k["wrapped"] for k in keys_before)

    erased = no.api.post("/dpo/erasures", json={**QUERY, "rule": "GDPR Art. 17, request DPO-2026-14"},
                         headers=dpo(no))
    assert erased.status_code == 200, erased.text
    assert erased.json()["keys_erased"] == len(keys_before)

    case = no.api.get(f"/cases/{case_id}", headers=no.official).json()
    marker = "[erased on 2026-11-22 under GDPR Art. 17, request DPO-2026-14]"
    assert case["content"]["targets"][0] == {"erased": marker}
    assert case["content"]["case_description"] == marker and case["items"][0]["content"] == marker
    history = no.api.get(f"/cases/{case_id}/history", headers=no.official).json()["data"]
    assert history[-1]["event"] == "PersonalDataErased"
    assert "Solberg" not in str(history)
    # No wrapped key of the subject is left anywhere: the sealed bytes cannot be opened again.
    raw = raw_store_text(no, tmp_path)
    assert all(k["wrapped"].encode() not in raw for k in keys_before)
    assert leaks(no, tmp_path) == []
    # The events, leaves and checkpoints stay: the whole log verifies, old checkpoints included.
    after = bundle(no)
    verdict = verify_bundle(after, held)
    assert verdict.ok, verdict
    # The partner's copy is the partner's to erase: JP still holds its own.
    assert jp.api.get(f"/cases/{theirs}", headers=jp.official).json()["content"]["targets"][0]["name"] == \
        "Ingrid Solberg"
    # A tombstoned key is never recreated: new data on the same case gets a new key.
    again = no.api.post(f"/cases/{case_id}/closure", headers=no.official, json={"reason": "done"})
    assert again.status_code == 200
    assert {k["key_id"] for k in no.node.vault.keys(case_id=case_id)} == {k["key_id"] for k in keys_before}
    assert all(k["wrapped"] is None for k in no.node.vault.keys(case_id=case_id))


def test_restriction_blocks_reads_disclosures_and_envelopes_until_lifted(nodes):
    no, jp = nodes
    case_id, theirs = opened(no, jp, request_on(PERSON))
    replied(no, jp, case_id, theirs, person_item())
    officer = dpo(no)
    restricted = no.api.post("/dpo/restrictions", json={**QUERY, "reason": "accuracy contested"}, headers=officer)
    assert restricted.status_code == 201, restricted.text
    subject_id = restricted.json()["subject_id"]

    view = no.api.get(f"/cases/{case_id}", headers=no.official).json()
    assert "restricted since" in view["content"]["targets"][0]["restricted"]
    assert "Solberg" not in str(view) and "Gardermoen" not in str(view)
    history = no.api.get(f"/cases/{case_id}/history", headers=no.official).json()
    assert "Solberg" not in str(history)
    item_id = view["items"][0]["item_id"]
    disclosure = no.api.post(f"/cases/{case_id}/disclosures", headers=no.official, json={
        "items": [item_id], "action": "disclosure", "recipient_authority": "Oslo police", "purpose": "prosecution",
        "basis": "consent"})
    assert disclosure.status_code == 423, disclosure.text
    assert disclosure.json()["article"] == "JP-NO Art. 9(2)"
    # JP-side restriction blocks sending the subject's data (a further reply).
    jp_officer = dpo(jp)
    assert jp.api.post("/dpo/restrictions", json={**QUERY, "reason": "objection"}, headers=jp_officer).status_code \
        == 201
    more = jp.api.post(f"/cases/{theirs}/replies", headers=jp.official, json={"items": [person_item()]})
    assert more.status_code in (409, 423)  # the case is replied already, or restricted; never sent
    assert jp.deliver() == 0
    # The DPO still sees everything; lifting restores the official's read.
    report = no.api.post("/dpo/access-reports", json=QUERY, headers=officer).json()
    assert report["restricted"]["reason"] == "accuracy contested"
    assert no.api.delete(f"/dpo/restrictions/{subject_id}", headers=officer).status_code == 204
    view = no.api.get(f"/cases/{case_id}", headers=no.official).json()
    assert view["content"]["targets"][0]["name"] == "Ingrid Solberg"


def test_a_restricted_subject_cannot_be_sent_in_a_reply(nodes):
    no, jp = nodes
    case_id, theirs = opened(no, jp, request_on(PERSON))
    assert jp.api.post("/dpo/restrictions", json={**QUERY, "reason": "objection"}, headers=dpo(jp)).status_code == 201
    reply = jp.api.post(f"/cases/{theirs}/replies", headers=jp.official, json={"items": [person_item()]})
    assert reply.status_code == 423, reply.text
    assert "restricted" in reply.json()["detail"]
    assert jp.deliver() == 0
    assert jp.api.get(f"/cases/{theirs}", headers=jp.official).json()["status"] == "acknowledged"


def test_the_retention_sweep_erases_exactly_what_expired(nodes, clock):
    no, jp = nodes
    case_id, theirs = opened(no, jp, request_on(PERSON))
    replied(no, jp, case_id, theirs, person_item(days=30, text="short-lived note"), person_item(days=1825))
    clock.advance(days=29)
    assert no.node.dpo.sweep()["keys_erased"] == 0
    clock.advance(days=2)
    done = no.api.post("/dpo/retention-sweeps", headers=dpo(no))
    assert done.status_code == 200, done.text
    assert done.json()["keys_erased"] == 1
    case = no.api.get(f"/cases/{case_id}", headers=no.official).json()
    short, long = case["items"]
    assert short["content"].startswith("[erased on 2026-12-23 under JP-NO Art. 9(2) retention period]")
    assert long["content"] == ITEM_TEXT
    assert case["content"]["targets"][0]["name"] == "Ingrid Solberg"
    events = no.api.get(f"/cases/{case_id}/history", headers=no.official).json()["data"]
    assert [e["event"] for e in events].count("PersonalDataErased") == 1
    assert no.node.dpo.sweep()["keys_erased"] == 0  # nothing twice
    told = no.api.get("/dpo/activity", params={"official": "dpo"}, headers=dpo(no)).json()["data"]
    assert any(a["action"].startswith("retention sweep: 1 key(s) erased under JP-NO Art. 9(2)") and
               a["case_id"] == case_id for a in told)
    metrics = no.api.get("/metrics", headers=no.operator).text
    assert 'cmaa_retention_sweeps_total{outcome="ok"}' in metrics
    assert "cmaa_retention_erased_keys_total 1.0" in metrics


def test_rectification_is_a_new_event_and_reaches_the_partner(nodes):
    no, jp = nodes
    case_id, theirs = opened(no, jp, request_on(PERSON))
    corrected = {**PERSON, "name": "Ingrid Solberg-Dahl"}
    response = no.api.post("/dpo/rectifications", headers=dpo(no), json={
        **QUERY, "case_id": case_id, "corrected": corrected, "reason": "name changed by marriage"})
    assert response.status_code == 200, response.text
    assert response.json()["content"]["targets"][0]["name"] == "Ingrid Solberg-Dahl"
    assert no.deliver() == 1
    theirs_now = jp.api.get(f"/cases/{theirs}", headers=jp.official).json()
    assert theirs_now["content"]["targets"][0]["name"] == "Ingrid Solberg-Dahl"
    history = no.api.get(f"/cases/{case_id}/history", headers=no.official).json()["data"]
    assert history[0]["data"]["content"]["targets"][0]["name"] == "Ingrid Solberg"  # the original stays
    assert [e["event"] for e in history][-2:] == ["PersonalDataRectified", "EnvelopeDelivered"]
    # The corrected name finds the same subject.
    by_new_name = {"subject": {"name": "ingrid solberg-dahl", "date_of_birth": "1980-04-12"}}
    report = no.api.post("/dpo/access-reports", json=by_new_name, headers=dpo(no))
    assert report.status_code == 200 and [c["case_id"] for c in report.json()["cases"]] == [case_id]


def test_reads_of_personal_data_are_logged_with_their_purpose(nodes):
    no, jp = nodes
    case_id, _ = opened(no, jp, request_on(PERSON))
    no.api.get(f"/cases/{case_id}", headers={**no.official, "X-Purpose": "preparing the reply"})
    officer = dpo(no)
    subject_id = no.api.post("/dpo/access-reports", json=QUERY, headers=officer).json()["subject_id"]
    rows = no.api.get("/dpo/activity", params={"official": "no-hansen"}, headers=officer).json()["data"]
    read = [r for r in rows if r["action"] == "read case"]
    assert read and read[0]["purpose"] == "preparing the reply" and read[0]["subject_id"] == subject_id
    assert read[0]["case_id"] == case_id


def test_only_the_dpo_may_call_the_dpo_api(nodes):
    no, _ = nodes
    assert no.api.post("/dpo/access-reports", json=QUERY, headers=no.official).status_code == 403
    assert no.api.post("/dpo/access-reports", json=QUERY).status_code == 401
    assert no.api.post("/dpo/erasures", json={**QUERY, "rule": "x"}, headers=no.operator).status_code == 403
    unknown = no.api.post("/dpo/access-reports", json={"subject": {"name": "Nobody", "date_of_birth": "1900-01-01"}},
                          headers=dpo(no))
    assert unknown.status_code == 404 and unknown.headers["content-type"] == "application/problem+json"
    bad = no.api.post("/dpo/erasures", json={**QUERY, "rule": ""}, headers=dpo(no))
    assert bad.status_code == 422


@pytest.mark.parametrize("field,value", [("subject", "not an object"), ("extra", 1)])
def test_malformed_dpo_input_is_a_clear_error(nodes, field, value):
    no, _ = nodes
    response = no.api.post("/dpo/access-reports", json={**QUERY, field: value}, headers=dpo(no))
    assert response.status_code == 422 and response.headers["content-type"] == "application/problem+json"


def test_spontaneous_assistance_names_its_subjects_and_they_are_found_on_both_nodes(nodes, tmp_path):
    no, jp = nodes
    given = jp.api.post("/cases/spontaneous", headers=jp.official, json={
        "agreement": "jp-no-2016", "partner_administration": "NO", "addressed_to": ["no-hansen"],
        "relevance": "Courier seen with undeclared goods", "case_description": FREE_TEXT,
        "targets": [PERSON], "items": [person_item()]})
    assert given.status_code == 201, given.text
    [row] = jp.node.store.exchange.pending()
    assert "Ingrid" not in row["payload"] and "Gardermoen" not in row["payload"]  # sealed while it waits
    assert jp.deliver() == 1
    for side in (no, jp):
        report = side.api.post("/dpo/access-reports", json=QUERY, headers=dpo(side))
        assert report.status_code == 200, report.text
        [case] = report.json()["cases"]
        values = [h["value"] for h in case["held"]]
        assert ITEM_TEXT in values and FREE_TEXT in values
        assert {h["provided_by"] for h in case["held"]} == {"JP"}
    assert leaks(no, tmp_path) == [] and leaks(jp, tmp_path) == []


def test_recording_a_delivery_opens_none_of_the_cases_personal_data(nodes, monkeypatch):
    """The courier records a receipt on the case without unsealing its events (no vault
    round trip, no key unwrapped): the only personal data it opens is the envelope it sends."""
    no, jp = nodes
    vault = no.node.store.mapper.vault
    opened_scopes = []
    real = type(vault).unseal_event

    def counting(self, event_name, originator_id, scope, state, erased=None):
        if self is vault and counting.on:  # NO's vault (both nodes run in this process), while delivering
            opened_scopes.append(f"{event_name}@{scope}")
        return real(self, event_name, originator_id, scope, state, erased)

    counting.on = False
    monkeypatch.setattr(type(vault), "unseal_event", counting)
    response = no.api.post("/cases", json=request_on(PERSON), headers=no.official)
    assert response.status_code == 201, response.text
    counting.on = True
    assert no.deliver() == 1
    counting.on = False
    assert opened_scopes and all("@outbox:" in scope for scope in opened_scopes), opened_scopes
    case = no.api.get(f"/cases/{response.json()['id']}", headers=no.official).json()
    assert [d["status"] for d in case["deliveries"]] == ["delivered"]
    assert case["content"]["targets"][0]["name"] == PERSON["name"]  # the stored events still open for a reader


def test_a_request_and_its_envelope_are_sealed_in_one_vault_transaction_under_the_same_keys(nodes, monkeypatch):
    """The outbox envelope and the case's event carry the same personal data: the second sealing
    reuses the subject and keys the first looked up (``Vault.remembering``) and needs no vault
    transaction of its own (docs/performance.md). Both still open, each under its own binding."""
    from adapters.vault_sql import VaultTransactions

    no, jp = nodes
    opened_transactions = []
    real_open = VaultTransactions._open

    def counted(self, write):
        opened_transactions.append(write)
        return real_open(self, write)

    monkeypatch.setattr(VaultTransactions, "_open", counted)
    response = no.api.post("/cases", json=request_on(PERSON), headers=no.official)
    assert response.status_code == 201, response.text
    assert opened_transactions == [True]  # the envelope's (with the restriction check); the event's joined none
    monkeypatch.setattr(VaultTransactions, "_open", real_open)
    case_id = response.json()["id"]
    vault = no.node.store.mapper.vault
    keys = vault.keys(case_id=case_id)
    assert len({k["subject_id"] for k in keys}) == 1 and all(k["wrapped"] for k in keys)
    # The event opens (the API shows the target), and the envelope opens at JP after delivery.
    shown = no.api.get(f"/cases/{case_id}", headers={**no.official, "X-Purpose": "checking the request"})
    assert PERSON["name"] in shown.text
    assert no.deliver() == 1
    theirs = jp.api.get(f"/cases/{jp_case_id(case_id)}", headers={**jp.official, "X-Purpose": "checking the request"})
    assert PERSON["name"] in theirs.text


def test_a_case_being_opened_gets_its_keys_without_a_look_up_on_both_sides(nodes, monkeypatch):
    """A case opened here (its envelope and its first event sealed under one key) and the same case received
    by the partner: neither looks for keys the case cannot have yet; each holds one key for the target."""
    no, jp = nodes
    looked: list[tuple] = []
    for side in (no, jp):
        vault = side.node.vault
        look_up = vault._look_up_key
        monkeypatch.setattr(vault, "_look_up_key", lambda *a, _l=look_up: looked.append(a) or _l(*a))
    case_id = no.api.post("/cases", json=jp_no_request(), headers=no.official).json()["id"]
    assert no.deliver() == 1
    assert looked == []
    theirs = str(jp_case_id(case_id))
    assert [len(side.node.vault.keys(case_id=c)) for side, c in ((no, case_id), (jp, theirs))] == [1, 1]
    for side, c in ((no, case_id), (jp, theirs)):  # and what was sealed under them reads back
        target = side.api.get(f"/cases/{c}", headers=side.official).json()["content"]["targets"][0]
        sent = jp_no_request()["content"]["targets"][0]
        assert {k: v for k, v in target.items() if v is not None} == sent


def test_a_new_case_about_a_restricted_subject_is_not_sent_and_the_check_is_one_statement(nodes, monkeypatch):
    """JP-NO Art. 9(2): the subject's identifiers in a request not yet stored are enough to find its
    restriction (its subjects by the case's keys and by the targets' pseudonyms, asked in one statement)."""
    no, jp = nodes
    opened(no, jp, request_on(PERSON))
    assert no.api.post("/dpo/restrictions", json={**QUERY, "reason": "objection"}, headers=dpo(no)).status_code == 201
    statements = []
    run = no.node.vault._run
    monkeypatch.setattr(no.node.vault, "_run", lambda sql, *a: statements.append(sql) or run(sql, *a))

    refused = no.api.post("/cases", json=request_on(PERSON), headers=no.official)

    assert refused.status_code == 423, refused.text
    assert refused.json()["article"] == "JP-NO Art. 9(2)" and "restricted" in refused.json()["detail"]
    assert len([s for s in statements if "cmaa_pd_restrictions" in s]) == 1 and len(statements) == 1
    assert no.deliver() == 0
    unrelated = no.api.post("/cases", json=jp_no_request(), headers=no.official)  # another subject: sent
    assert unrelated.status_code == 201, unrelated.text
