"""Protocol edges: 405 names what is allowed; the role is checked before the body is read."""

from __future__ import annotations

import pytest

from domain.directory import ROLES
from service.http.deps import current_principal
from service.http.roles import roles_of
from service.http.routing import api_routes

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _operations(api):
    document = api.get("/openapi.json").json()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            yield path, method.upper(), operation


def _concrete(path: str) -> str:
    return path.replace("{", "").replace("}", "")  # any value for a path parameter


def test_every_405_carries_an_allow_header_naming_the_methods_the_path_serves(api, who):
    """RFC 9110 §15.5.6; a path served by several routes (GET /cases, POST /cases) names them all."""
    by_path: dict[str, set[str]] = {}
    for path, method, _ in _operations(api):
        by_path.setdefault(path, set()).add(method)
    checked = 0
    for path, methods in by_path.items():
        for method in set(METHODS) - methods:
            response = api.request(method, _concrete(path))
            if response.status_code != 405:  # a more specific route can serve the concrete path
                continue
            checked += 1
            assert response.headers["content-type"] == "application/problem+json"
            allowed = {m.strip() for m in response.headers["allow"].split(",")}
            assert methods <= allowed, (method, path, allowed)
    assert checked > len(by_path)
    assert set(api.delete("/cases").headers["allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "POST"}
    # /cases/{case_id} also matches /cases/oral for GET, but that resource is POST only
    oral = api.get("/cases/oral", headers=who.official)
    assert oral.status_code == 405 and oral.headers["allow"] == "POST"
    assert api.get("/cases/not-a-uuid", headers=who.official).status_code == 422


def test_head_is_the_get_without_its_content_on_every_get_path(api, who):
    """RFC 9110 §9.3.2: a server that answers GET answers HEAD: the same status and headers, no body,
    after the same authentication (a HEAD without a credential is 401, as the GET is)."""
    paths = {path for path, method, _ in _operations(api) if method == "GET" and "{" not in path}
    assert len(paths) > 10
    for path in sorted(paths | {"/docs", "/console/sign-in"}):
        get, head = api.get(path, headers=who.operator), api.head(path, headers=who.operator)
        assert head.status_code == get.status_code, path
        assert head.content == b"" and head.headers.get("content-type") == get.headers.get("content-type"), path
        if get.status_code == 200 and "content-length" in get.headers and path not in ("/metrics", "/readyz"):
            assert head.headers["content-length"] == get.headers["content-length"], path
    assert api.head("/cases").status_code == 401 and api.head("/cases", headers=who.official).status_code == 200
    assert "HEAD" in api.post("/healthz").headers["allow"]


def _credentials(node, who):
    d = node.directory
    d.designate_official(by="test", official_id="no-dpo", name="DPO", email="", roles=["dpo"])
    dpo = {"Authorization": f"Bearer {d.issue_credential(by='test', official_id='no-dpo')}"}
    return {"operator": who.operator, "official": who.official, "auditor": who.auditor, "dpo": dpo}


def test_every_secured_route_checks_a_role_before_it_reads_anything(api):
    """The class, not the instances: a route that authenticates without a RoleCheck fails here."""
    routes = [route for _, route in api_routes(api.app.routes)]
    assert len(routes) > 40
    for route in routes:
        stack, authenticates = list(route.dependant.dependencies), False
        while stack:
            dependant = stack.pop()
            authenticates |= dependant.call is current_principal
            stack.extend(dependant.dependencies)
        if authenticates:
            assert roles_of(route), f"{route.path} {route.methods}: authenticated but no RoleCheck"


@pytest.mark.parametrize("garbage", [{"garbage": True}, [], "not json"])
def test_a_caller_without_the_role_gets_403_not_the_schema_on_every_endpoint_with_a_body(api, node, who, garbage):
    credentials = _credentials(node, who)
    routes = {(path, m): r for path, r in api_routes(api.app.routes) for m in r.methods}
    checked = 0
    for path, method, operation in _operations(api):
        if "requestBody" not in operation or not operation.get("security"):
            continue
        roles = roles_of(routes[(path, method)])
        for role in set(ROLES) - set(roles):
            kwargs = {"content": garbage} if isinstance(garbage, str) else {"json": garbage}
            response = api.request(method, _concrete(path), headers=credentials[role], **kwargs)
            assert response.status_code == 403, (role, method, path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert "errors" not in response.json()
            checked += 1
    assert checked >= 20


def test_an_official_posting_garbage_to_a_dpo_endpoint_gets_403_without_validation_details(api, who):
    response = api.post("/dpo/erasures", json={"subject": 42}, headers=who.official)
    assert response.status_code == 403
    assert response.json()["type"] == "urn:cmaa:problem:not-permitted" and "errors" not in response.json()
