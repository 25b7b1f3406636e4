"""The API documentation pages work on a network without internet: every asset is the node's own."""

from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_page_names_no_outside_url_and_its_assets_are_served_by_the_node(api, page):
    html = api.get(page)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    urls = re.findall(r"""(?:src|href|url)\s*[=:(]\s*['"]?([^'"\s)>]+)""", html.text)
    assert urls, html.text
    outside = [u for u in urls if re.match(r"^(https?:)?//", u)]
    assert outside == [], outside
    for url in urls:
        assert api.get(url).status_code == 200, url
    assert "/openapi.json" in html.text and api.get("/openapi.json").status_code == 200
