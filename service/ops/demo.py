"""`cmaa demo`: Norway and Japan on loopback, one case end to end, each step printed.

Both nodes are real: their own SQLite stores, keys and signed directories
(imported with pinned fingerprints), uvicorn servers on 127.0.0.1, couriers
delivering signed and encrypted envelopes and storing signed receipts.
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn

from service.http.app import create_app
from service.http.client import post_once
from service.http.server import protocol_for, refuse_taken_port
from service.identity import store_location
from service.node import Node, build_node, initialise
from service.settings import Settings

REQUEST = {
    "agreement": "jp-no-2016", "partner_administration": "JP", "kind": "information", "language": "en",
    "addressed_to": ["jp-tanaka"],
    "content": {
        "action_requested": "Provide the export declarations for container MSCU1234567",
        "reason": "Suspected undervaluation of electronics imported into Norway",
        "case_description": "Importer declared 40% below market value on 12 shipments in 2026",
        "laws_involved": ["Norwegian Customs Act 2007 s. 16-1"],
        "targets": [{"kind": "legal", "name": "Nordlys Import AS"}],
    },
}
REPLY = {"items": [{"title": "Export declaration EX-2026-001", "content": "Declared value JPY 1,200,000",
                    "restrictions": {"purposes": ["customs_law_application"], "law_enforcement_onward": False,
                                     "use_conditions": ["Not to be used for tax assessment"]}}]}


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the demo's main thread keeps Ctrl-C
        pass


def _start(node: Node) -> _Server:
    server = _Server(uvicorn.Config(create_app(node=node), host="127.0.0.1", port=node.settings.port,
                                    http=protocol_for(node.settings), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():  # uvicorn gave up (it logged why): not a wait for ever
            raise RuntimeError(f"the demo's {node.settings.administration} node could not start on "
                               f"127.0.0.1:{node.settings.port}")
        time.sleep(0.05)
    return server


def _wait(predicate, what: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_demo(base_port: int, out) -> None:
    """``base_port`` 0 picks two free ports."""
    root = Path(tempfile.mkdtemp(prefix="cmaa-demo-"))
    nodes, tokens = {}, {}
    ports = (base_port, base_port + 1) if base_port else (_free_port(), _free_port())
    for port in ports:  # before anything is made: a node of another demo may listen there
        refuse_taken_port("127.0.0.1", port, "stop it, or choose other ports with --base-port (0 picks free ones)")
    for admin, name, official, port in (("NO", "Norwegian Customs", "no-hansen", ports[0]),
                                        ("JP", "Japan Customs", "jp-tanaka", ports[1])):
        settings = Settings(administration=admin, administration_name=name, data_dir=root / admin.lower(),
                            port=port, courier_interval_seconds=0.1,
                            directory_refresh_seconds=0)  # directories imported below, by hand: no fetch at start-up
        node = build_node(settings)
        initialise(node)
        node.designate_official(by="demo", official_id=official, name=official, roles=["official"])
        tokens[admin] = {"Authorization": f"Bearer {node.directory.issue_credential(by='demo', official_id=official)}"}
        nodes[admin] = node
        out.print(f"[bold]{admin}[/bold] node at {settings.endpoint}, store {store_location(settings)}, "
                  f"node key fingerprint {node.exchange.node_fingerprint()}")
    for a, b in (("NO", "JP"), ("JP", "NO")):
        nodes[a].directory.register_partner(by="demo", administration=b, name=nodes[b].settings.administration_name,
                                            agreements=["jp-no-2016"])
        nodes[a].exchange.import_directory(nodes[b].exchange.export_directory(),
                                           nodes[b].exchange.node_fingerprint(), "demo")
        out.print(f"{a} imported {b}'s signed directory (fingerprint pinned)")
    servers = [_start(node) for node in nodes.values()]
    no, jp = (f"http://127.0.0.1:{nodes[a].settings.port}" for a in ("NO", "JP"))
    try:
        with httpx.Client(timeout=10) as http:
            case = post_once(http, f"{no}/cases", json=REQUEST, headers=tokens["NO"]).json()
            out.print(f"1. NO no-hansen requests information under JP-NO Art. 3(1): case {case['reference']}")
            theirs = _wait(lambda: next(iter(http.get(f"{jp}/cases", headers=tokens["JP"]).json()["data"]), None),
                           "the request at JP")
            out.print(f"2. JP received it by signed, encrypted envelope: case {theirs['id']} ({theirs['status']})")
            _wait(lambda: "EnvelopeDelivered" in _events(http, no, case["id"], tokens["NO"]), "NO's receipt")
            out.print("3. NO stored JP's signed receipt over the envelope's digest")
            post_once(http, f"{jp}/cases/{theirs['id']}/acknowledgement", headers=tokens["JP"])
            _wait(lambda: http.get(f"{no}/cases/{case['id']}", headers=tokens["NO"]).json()["status"]
                  == "acknowledged", "the acknowledgement at NO")
            out.print("4. JP jp-tanaka acknowledged (JP-NO Art. 12(1)); NO's case is now acknowledged")
            post_once(http, f"{jp}/cases/{theirs['id']}/replies", json=REPLY, headers=tokens["JP"])
            mine = _wait(lambda: (c := http.get(f"{no}/cases/{case['id']}", headers=tokens["NO"]).json())["status"]
                         == "replied" and c, "the reply at NO")
            restrictions = mine["items"][0]["restrictions"]
            out.print(f"5. JP replied with restricted information (Art. 3(4), 8(2)): purposes "
                      f"{restrictions['purposes']}, law-enforcement onward use "
                      f"{'allowed' if restrictions['law_enforcement_onward'] else 'not allowed (Art. 7(3))'}, "
                      f"conditions {restrictions['use_conditions']}")
            out.print("\nNO's history of the case:")
            for event in http.get(f"{no}/cases/{case['id']}/history", headers=tokens["NO"]).json()["data"]:
                who = event["by"]["official"] if isinstance(event["by"], dict) else "-"
                out.print(f"  v{event['version']} {event['event']:<22} by {who:<10} {', '.join(event['articles'])}")
    finally:
        for server in servers:
            server.should_exit = True
        time.sleep(0.3)
        for node in nodes.values():
            node.close()
    out.print(f"\nDemo data left in {root}")


def _events(http: httpx.Client, base: str, case_id: str, headers: dict) -> list[str]:
    return [e["event"] for e in http.get(f"{base}/cases/{case_id}/history", headers=headers).json()["data"]]
