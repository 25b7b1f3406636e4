"""/docs (Swagger UI) in a real browser on a network without internet: every request stays on the node."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.console.conftest import LOCAL_HOSTS
from tests.servers import cli_env, cmaa, node_process

OPERATIONS = sum(len(methods) for methods in json.loads(
    (Path(__file__).resolve().parents[2] / "openapi" / "openapi.json").read_text())["paths"].values())


class Guard:
    """Lets localhost through; aborts, and remembers, any request for another host."""

    def __init__(self, context):
        self.local, self.outside = [], []
        context.route("**/*", self._route)

    def _route(self, route):
        url = route.request.url
        if urlparse(url).hostname in LOCAL_HOSTS:
            self.local.append(url)
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()


def test_swagger_ui_renders_every_operation_with_no_request_leaving_the_machine(browser, tmp_path):
    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'cmaa.db'}")
    assert cmaa(env, "init").returncode == 0
    with node_process(env) as base:
        context = browser.new_context()
        guard = Guard(context)
        try:
            page = context.new_page()
            page.goto(f"{base}/docs")
            try:
                page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)  # rendered from /openapi.json
            except PlaywrightTimeout:
                raise AssertionError(f"Swagger UI did not render; requests for other hosts: {guard.outside}") from None
            page.wait_for_load_state("networkidle")
            assert page.locator(".swagger-ui .opblock").count() == OPERATIONS
            assert "cmaa-exchange node" in page.locator(".swagger-ui .info .title").inner_text()
        finally:
            context.close()
    assert guard.outside == [], guard.outside
    assert any(url.endswith("/openapi.json") for url in guard.local)
    assert any("/docs-assets/" in url and url.endswith(".js") for url in guard.local), guard.local


def test_the_guard_sees_a_page_that_reaches_for_a_cdn(browser):
    context = browser.new_context()
    guard = Guard(context)
    try:
        page = context.new_page()
        page.set_content('<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>')
    finally:
        context.close()
    assert guard.outside == ["https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"]
