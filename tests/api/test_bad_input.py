"""Bad input gets a clear RFC 9457 problem, never a 500, and changes nothing."""

from __future__ import annotations

import sqlite3
import uuid

import pytest

from tests.factories import jp_no_request


def test_an_unknown_field_is_rejected_with_its_name(api, who):
    body = jp_no_request()
    body["priority"] = "high"
    response = api.post("/cases", json=body, headers=who.official)
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "urn:cmaa:problem:validation-error"
    assert problem["field"] == "priority"


def test_a_nested_wrong_type_names_the_path(api, who):
    body = jp_no_request()
    body["content"]["targets"][0]["kind"] = "robot"
    response = api.post("/cases", json=body, headers=who.official)
    assert response.status_code == 422
    assert response.json()["field"] == "content.targets.0.kind"


@pytest.mark.parametrize("raw", [b"{", b"[]", b"null", b"\xff\xfe", b'{"agreement": 1e999999}'])
def test_malformed_json_is_a_422_problem(api, who, raw):
    response = api.post("/cases", content=raw, headers={**who.official, "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_an_oversized_body_is_refused_with_413(api, who):
    body = jp_no_request(case_description="x" * 2_000_000)
    response = api.post("/cases", json=body, headers=who.official)
    assert response.status_code == 413
    assert response.json()["status"] == 413


def test_an_oversized_chunked_body_is_refused_with_413(api, who):
    def chunks():
        for _ in range(40):
            yield b"x" * 65_536

    response = api.post("/cases", content=chunks(), headers={**who.official, "Content-Type": "application/json"})
    assert response.status_code == 413


def test_an_unknown_case_is_a_404_problem(api, who):
    response = api.get(f"/cases/{uuid.uuid4()}", headers=who.official)
    assert response.status_code == 404
    assert response.json()["type"] == "urn:cmaa:problem:not-found"


def test_a_malformed_case_id_is_a_422_problem(api, who):
    response = api.get("/cases/not-a-uuid", headers=who.official)
    assert response.status_code == 422
    assert response.json()["field"] == "path.case_id"


def test_the_directory_aggregate_id_is_not_readable_as_a_case(api, who, node):
    from domain.directory import directory_id

    response = api.get(f"/cases/{directory_id('NO')}", headers=who.official)
    assert response.status_code == 404


def test_an_unknown_route_is_a_problem(api, who):
    response = api.get("/nope", headers=who.official)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_a_refused_request_stores_nothing(api, who):
    body = jp_no_request(language="ja")
    assert api.post("/cases", json=body, headers=who.official).status_code == 422
    assert api.get("/cases", headers=who.official).json()["count"] == 0


@pytest.mark.parametrize("after", ["-1", str(2**63), "abc"])
def test_an_out_of_range_cursor_is_a_422_problem(api, who, after):
    response = api.get("/cases", params={"after": after}, headers=who.official)
    assert response.status_code == 422
    assert response.json()["field"] == "query.after"


def test_a_store_locked_by_another_writer_is_a_503_problem_and_nothing_is_stored(api, who, node, store_url):
    if not store_url.startswith("sqlite"):
        pytest.skip("SQLite's single write lock; PostgreSQL locks rows")
    pool = node.store.recorder.datastore.pool
    pool.lock_timeout = 1  # SQLITE_LOCK_TIMEOUT, shortened for the test
    for connection in list(pool._pool):
        connection.timeout = 0.5
    other = sqlite3.connect(store_url.removeprefix("sqlite:///"), isolation_level=None)  # e.g. a CLI command
    other.execute("BEGIN IMMEDIATE")
    try:
        response = api.post("/cases", json=jp_no_request(), headers=who.official)
    finally:
        other.rollback()
        other.close()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    assert response.json()["type"] == "urn:cmaa:problem:store-busy"
    assert "Traceback" not in response.text
    assert api.get("/cases", headers=who.official).json()["count"] == 0
    assert api.post("/cases", json=jp_no_request(), headers=who.official).status_code == 201


def test_a_field_the_node_would_not_keep_is_refused_not_dropped(api, who):
    """received_from was accepted on POST /cases/received and stored nowhere: input is kept or refused."""
    from tests.factories import received_request

    response = api.post("/cases/received", json={**received_request(), "received_from": "jp-tanaka"},
                        headers=who.official)
    assert response.status_code == 422 and response.json()["field"] == "received_from"


@pytest.mark.parametrize("partner, field", [
    ({"administration": "SE", "agreements": ["jp-no-2016"]}, "administration"),  # not a party to JP-NO
    ({"administration": "SE", "agreements": ["nordic-1981", "nope"]}, "agreements.1"),  # unknown agreement
])
def test_a_refused_partner_names_the_field_as_sent(api, who, partner, field):
    """The directory's rules named the case request's fields (partner_administration, agreement)."""
    response = api.post("/directory/partners", json={"name": "Partner", **partner}, headers=who.operator)
    assert response.status_code in (404, 422)
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["field"] == field


@pytest.mark.parametrize("raw, position", [(b'{"agreement": "jp-no-2016",}', 27), (b"{", 1)])
def test_malformed_json_names_the_body_and_the_position(api, who, raw, position):
    response = api.post("/cases", content=raw, headers={**who.official, "Content-Type": "application/json"})
    problem = response.json()
    assert problem["type"] == "urn:cmaa:problem:invalid-json" and problem["field"] == "body"
    assert problem["reason"].startswith("the body is not valid JSON: ")
    assert f"(at character {position})" in problem["reason"]


@pytest.mark.parametrize("raw, reason", [
    (b'{"agreement": "\xff"}', "not UTF-8"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (b'{"agreement": ' + b"1" * 5_000 + b"}", "more than 4300 digits"),
])
def test_a_body_the_parser_cannot_read_is_a_422_problem_naming_the_body(api, who, raw, reason):
    """These were a bare 400 'There was an error parsing the body', without field or reason."""
    response = api.post("/cases", content=raw, headers={**who.official, "Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["field"] == "body" and reason in problem["reason"]
    assert api.get("/cases", headers=who.official).json()["count"] == 0


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "application/xml", "multipart/form-data; boundary=x"])
def test_a_json_body_of_another_media_type_is_a_415_problem(api, who, content_type):
    """It was 422 'body: Input should be a valid dictionary'."""
    import json

    headers = {**who.official, **({"Content-Type": content_type} if content_type else {})}
    response = api.post("/cases", content=json.dumps(jp_no_request()).encode(), headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:cmaa:problem:unsupported-media-type"
    assert problem["field"] == "header.content-type" and "application/json" in problem["reason"]
    assert problem["expected"] == "application/json" and response.headers["accept-post"] == "application/json"
    assert api.get("/cases", headers=who.official).json()["count"] == 0


def test_the_inbox_reads_only_application_jose_json(api):
    """docs/envelope-format.md §3: the envelope is sent as application/jose+json."""
    response = api.post("/exchange/inbox", content=b"{}", headers={"Content-Type": "application/json"})
    assert response.status_code == 415
    assert response.json()["expected"] == "application/jose+json"


@pytest.mark.parametrize("path", ["/cases/", "/directory/", "/agreements/"])
def test_a_trailing_slash_is_a_404_problem_not_a_redirect(api, who, path):
    """It was 307 to an absolute http:// URL: behind a TLS proxy, the client and its token sent to plain HTTP."""
    response = api.get(path, headers=who.official, follow_redirects=False)
    assert response.status_code == 404 and "location" not in response.headers
    assert response.headers["content-type"] == "application/problem+json"


def test_the_console_without_its_slash_is_sent_to_it_by_a_relative_location(api):
    response = api.get("/console", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/console/"


def test_a_date_of_birth_in_the_future_is_refused_naming_the_field(api, who):
    body = jp_no_request()
    body["content"]["targets"][0]["date_of_birth"] = "2999-01-01"
    response = api.post("/cases", json=body, headers=who.official)
    assert response.status_code == 422
    assert response.json()["field"] == "content.targets.0.date_of_birth"
    assert api.get("/cases", headers=who.official).json()["count"] == 0


@pytest.mark.parametrize("where, field", [
    (lambda body: body["content"].update(reason="Suspected\u0000 undervaluation"), "content.reason"),
    (lambda body: body["content"]["targets"][0].update(name="Nordlys\u0007 AS"), "content.targets.0.name"),
    (lambda body: body["content"].update(laws_involved=["Customs Act\u001b"]), "content.laws_involved"),
])
def test_control_characters_in_free_text_are_refused_naming_the_field(api, who, where, field):
    """A NUL was accepted (and PostgreSQL refuses NUL in text and JSON); tab, newline and CR stay allowed."""
    body = jp_no_request()
    where(body)
    response = api.post("/cases", json=body, headers=who.official)  # sent as the escape \u0000
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field and "control character" in response.json()["reason"]
    assert api.get("/cases", headers=who.official).json()["count"] == 0
    body = jp_no_request()
    body["content"]["reason"] = "Suspected\tunder-\r\nvaluation"
    assert api.post("/cases", json=body, headers=who.official).status_code == 201


def test_an_agreement_period_without_a_field_is_refused(api, who):
    """PUT /agreements/{id}/period with {} answered 200: an empty change, recorded."""
    before = api.get("/directory", headers=who.operator).json()["periods"]
    response = api.put("/agreements/jp-no-2016/period", json={}, headers=who.operator)
    assert response.status_code == 422
    problem = response.json()
    assert problem["field"] == "body"
    assert "in_force_from" in problem["reason"] and "termination_notified_on" in problem["reason"]
    assert api.get("/directory", headers=who.operator).json()["periods"] == before


@pytest.mark.parametrize("parameter, value, allowed", [
    ("kind", "bogus", "information"), ("agreement", "nope", "jp-no-2016"), ("status", "nonsense", "closed"),
])
def test_an_unknown_filter_value_is_refused_naming_the_parameter_and_the_allowed(api, who, parameter, value, allowed):
    """?kind=bogus and ?agreement=nope answered 200 with an empty list (?status=nonsense was already 422)."""
    response = api.get("/cases", params={parameter: value}, headers=who.official)
    assert response.status_code == 422
    problem = response.json()
    assert problem["field"] == f"query.{parameter}"
    assert allowed in problem["reason"]
