"""Builders for test data and a configured node."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from service.http.app import create_app
from service.node import Node, build_node, initialise
from service.settings import Settings

JP_NO = "jp-no-2016"


def jp_no_request(**overrides: Any) -> dict[str, Any]:
    body = {
        "agreement": JP_NO,
        "partner_administration": "JP",
        "kind": "information",
        "language": "en",
        "addressed_to": ["jp-tanaka"],
        "content": {
            "action_requested": "Provide the export declarations for container MSCU1234567",
            "reason": "Suspected undervaluation of electronics imported into Norway",
            "case_description": "Importer declared 40% below market value on 12 shipments in 2026",
            "laws_involved": ["Norwegian Customs Act 2007 s. 16-1"],
            "targets": [{"kind": "legal", "name": "Nordlys Import AS",
                         "identifiers": [{"scheme": "company_registration", "value": "NO-987654321"}]}],
        },
    }
    for key, value in overrides.items():
        if key in body["content"] or key in ("reciprocity_notice", "document_summary", "recovery", "surveillance"):
            body["content"][key] = value
        else:
            body[key] = value
    return copy.deepcopy(body)


def received_request(**overrides: Any) -> dict[str, Any]:
    body = jp_no_request(**overrides)
    body.pop("addressed_to")
    body["channel"] = overrides.get("channel", "written")
    return body


def item(**restrictions: Any) -> dict[str, Any]:
    return {"title": "Export declaration EX-2026-001", "content": "Declared value JPY 1,200,000",
            "restrictions": restrictions}


@dataclass
class Officials:
    operator: dict[str, str]
    official: dict[str, str]
    colleague: dict[str, str]
    auditor: dict[str, str]


def configure(node: Node) -> Officials:
    """Designate officials, register Japan as a partner, issue credentials."""
    operator_token = initialise(node)
    d = node.directory
    d.designate_official(by="test", official_id="no-hansen", name="Kari Hansen", email="", roles=["official"])
    d.designate_official(by="test", official_id="no-berg", name="Ola Berg", email="", roles=["official"])
    d.designate_official(by="test", official_id="no-audit", name="Auditor", email="", roles=["auditor"])
    d.register_partner(by="test", administration="JP", name="Japan Customs", agreements=[JP_NO])
    d.designate_partner_official(by="test", administration="JP", official_id="jp-tanaka", name="Tanaka")
    auth = lambda token: {"Authorization": f"Bearer {token}"}  # noqa: E731
    return Officials(
        operator=auth(operator_token),
        official=auth(d.issue_credential(by="test", official_id="no-hansen")),
        colleague=auth(d.issue_credential(by="test", official_id="no-berg")),
        auditor=auth(d.issue_credential(by="test", official_id="no-audit")),
    )


def make_node(store_url: str, tmp_path, clock, **settings: Any) -> Node:
    config = Settings(data_dir=tmp_path / "data", database_url=store_url, **settings)
    return build_node(config, clock=clock)


def client_for(node: Node) -> TestClient:
    return TestClient(create_app(node=node, run_courier=False), raise_server_exceptions=False)
