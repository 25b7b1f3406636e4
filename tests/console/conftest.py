"""The console in Debian's chromium (Playwright), against real node processes; outside network blocked."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from tests.conftest import fresh_schema
from tests.servers import _settings, two_administrations

# Screenshots go to a scratch directory; CMAA_SCREENSHOTS=docs/screenshots refreshes the committed ones.
SHOTS = Path(os.environ.get("CMAA_SCREENSHOTS") or os.path.join(os.environ.get("TMPDIR", "/tmp"), "cmaa-console-shots"))
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Debian's chromium is not installed (apt-get install -y chromium; .ci/run does it)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@dataclass
class Person:
    """One person's browser context on one node's console."""

    browser: object
    base: str
    token: str
    shots: bool = False
    outside: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.context = self.browser.new_context(accept_downloads=True)
        self.context.route("**/*", self._guard)
        self.page = self.context.new_page()

    def _guard(self, route):
        if urlparse(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:  # nothing may leave the machine: no CDN, no font, no analytics
            self.outside.append(route.request.url)
            route.abort()

    def go(self, path: str):
        self.page.goto(self.base + "/console" + path)
        return self.page

    def sign_in(self):
        self.go("/sign-in")
        self.check("sign-in")
        self.page.fill("#credential", self.token)
        self.page.click("button:has-text('Sign in')")  # returns once the next page commits, maybe before its body
        expect(self.page.locator("h1")).to_have_count(1)  # retried until the page has loaded
        return self

    def check(self, name: str | None = None):
        """Every page: no serious or critical accessibility violation, no stack trace, no outside request."""
        from axe_playwright_python.sync_playwright import Axe

        results = Axe().run(self.page)
        serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
                   for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
        assert not serious, f"{self.page.url}: {serious}"
        text = self.page.content()
        assert "Traceback" not in text and 'File "' not in text
        assert not self.outside, self.outside
        if name and self.shots:
            SHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
        return self.page

    def close(self):
        assert not self.outside, self.outside
        self.context.close()


@dataclass
class Nodes:
    no: str
    jp: str
    tokens: dict[str, str]
    envs: dict[str, dict]
    backend: str
    processes: dict = field(default_factory=dict)  # NodeProcess per administration: stopped and started by journeys


def _more_officials(env: dict) -> dict[str, str]:
    from service.node import build_node

    node = build_node(_settings(env))
    try:
        directory = node.directory
        directory.designate_official(by="test", official_id="no-audit", name="Ada Auditor", email="",
                                     roles=["auditor"])
        directory.designate_official(by="test", official_id="no-dpo", name="Dag Protection", email="", roles=["dpo"])
        return {who: directory.issue_credential(by="test", official_id=who)
                for who in ("no-audit", "no-dpo", "operator")}
    finally:
        node.close()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def nodes(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("console")
    if request.param == "postgres":
        request.getfixturevalue("pg_ready")
        with fresh_schema() as url_no, fresh_schema() as url_jp:
            yield from _started(tmp, url_no, url_jp, "postgres")
    else:
        yield from _started(tmp, f"sqlite:///{tmp / 'no.db'}", f"sqlite:///{tmp / 'jp.db'}", "sqlite")


def _started(tmp, url_no, url_jp, backend):
    no, jp, no_token, jp_token = two_administrations(tmp, url_no, url_jp)
    tokens = {"no-hansen": no_token, "jp-tanaka": jp_token, **_more_officials(no.env)}
    no.start()
    jp.start()
    try:
        yield Nodes(no.base, jp.base, tokens, {"NO": no.env, "JP": jp.env}, backend, {"NO": no, "JP": jp})
    finally:
        no.stop()
        jp.stop()


@pytest.fixture
def person(browser, nodes):
    made = []

    def make(node: str, official: str) -> Person:
        base = nodes.no if node == "NO" else nodes.jp
        who = Person(browser, base, nodes.tokens[official], shots=nodes.backend == "sqlite")
        made.append(who)
        return who.sign_in()

    yield make
    for who in made:
        who.close()


def restore_an_older_backup_of_japan(nodes: Nodes, tmp: Path) -> None:
    """A real fork, as production meets one: Japan's operator restores an older backup of its store after
    Norway witnessed a later checkpoint of Japan's log. Japan's next receipt presents a history that does
    not extend what Norway witnessed, and Norway's witness (service/exchange/witness.py) raises the alarm."""
    import httpx

    from service.node import build_node
    from service.ops.backups import backup_node, restore_node
    from tests.factories import jp_no_request
    from tests.servers import wait_until

    settings = _settings({**nodes.envs["JP"], "CMAA_BACKUP_PASSPHRASE": "the console journeys' backup passphrase"})
    norway = build_node(_settings(nodes.envs["NO"]))

    def delivered() -> None:  # a request from Norway; Japan's receipt carries Japan's latest checkpoint
        made = httpx.post(f"{nodes.no}/cases", json=jp_no_request(),
                          headers={"Authorization": f"Bearer {nodes.tokens['no-hansen']}"})
        assert made.status_code == 201, made.text
        wait_until(lambda: [r for r in norway.store.exchange.for_case(made.json()["id"])
                            if r["status"] == "delivered"])

    try:
        older = backup_node(settings, tmp / "jp-backup")  # `cmaa backup` on Japan's host, the node running
        delivered()  # Japan's log grows past the backup ...
        japan = build_node(settings)
        try:  # ... and Japan signs a checkpoint of it (as its node does every minute)
            japan.audit.seal_and_checkpoint()
            later = japan.audit.checkpoint()
        finally:
            japan.close()
        assert later.size > older["log_size"]
        delivered()  # its receipt carries the later checkpoint: Norway witnesses it (consistent, cosigned)
        wait_until(lambda: (norway.audit.log.held_from("JP") or (0,))[0] >= later.size)
        nodes.processes["JP"].stop()
        restore_node(settings, tmp / "jp-backup", force=True)  # `cmaa restore --force`, the node stopped
        nodes.processes["JP"].start()
        delivered()  # the receipt now carries Japan's restored (older, then regrown) history
    finally:
        norway.close()
