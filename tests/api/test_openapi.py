import json
from pathlib import Path

from service.http.openapi import openapi_document

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"


def test_the_committed_openapi_document_matches_the_app():
    assert json.loads(SPEC.read_text()) == json.loads(openapi_document()), \
        "openapi/openapi.json is stale: run `cmaa openapi`"


def test_the_served_document_is_the_exported_one(api):
    assert api.get("/openapi.json").json() == json.loads(SPEC.read_text())


def test_operation_ids_are_stable_tag_and_name():
    spec = json.loads(SPEC.read_text())
    ids = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert {"cases-request_assistance", "cases-reply_to_request", "directory-designate_official"} <= ids
