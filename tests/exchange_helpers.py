"""Two nodes of two administrations, wired to each other in one process."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi.testclient import TestClient

from service.http.app import create_app
from service.node import Node, initialise
from tests.factories import make_node

JP_NO = "jp-no-2016"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Side:
    node: Node
    api: TestClient
    official: dict[str, str]
    operator: dict[str, str]

    def deliver(self) -> int:
        return self.node.courier.deliver_due()


def setup_node(url: str, tmp_path, clock, administration: str, name: str, official: str) -> tuple[Node, dict, dict]:
    node = make_node(url, tmp_path / administration, clock, administration=administration, administration_name=name,
                     public_url=f"http://{administration.lower()}.node.test")
    operator = bearer(initialise(node))
    node.designate_official(by="test", official_id=official, name=official, roles=["official"])
    return node, operator, bearer(node.directory.issue_credential(by="test", official_id=official))


def introduce(a: Node, b: Node, agreement: str = JP_NO) -> None:
    """``a`` registers ``b`` as a partner and imports its signed directory (pinned fingerprint)."""
    if b.settings.administration not in a.directory.directory().partners:
        a.directory.register_partner(by="test", administration=b.settings.administration,
                                     name=b.settings.administration_name, agreements=[agreement])
    a.exchange.import_directory(b.exchange.export_directory(), b.exchange.node_fingerprint(), "test")


def connect(no: Node, jp: Node) -> None:
    introduce(no, jp)
    introduce(jp, no)
    no.courier.http = TestClient(create_app(node=jp, run_courier=False), raise_server_exceptions=False)
    jp.courier.http = TestClient(create_app(node=no, run_courier=False), raise_server_exceptions=False)


def pair(url_no: str, url_jp: str, tmp_path, clock) -> tuple[Side, Side]:
    no, no_op, no_off = setup_node(url_no, tmp_path, clock, "NO", "Norwegian Customs", "no-hansen")
    jp, jp_op, jp_off = setup_node(url_jp, tmp_path, clock, "JP", "Japan Customs", "jp-tanaka")
    connect(no, jp)
    no_side = Side(no, TestClient(create_app(node=no, run_courier=False), raise_server_exceptions=False),
                   no_off, no_op)
    jp_side = Side(jp, TestClient(create_app(node=jp, run_courier=False), raise_server_exceptions=False),
                   jp_off, jp_op)
    return no_side, jp_side
