"""Node-to-node HTTPS with mutual TLS: certificates from a configured CA."""

from __future__ import annotations

import ssl

import httpx
import pytest

from tests.factories import jp_no_request
from tests.servers import wait_until
from tests.tls import client_context, issue, make_ca, two_nodes_over_mutual_tls


def test_two_nodes_exchange_over_mutual_tls_and_refuse_clients_without_a_certificate(tmp_path):
    no, jp, no_token, jp_token, context, (ca, ca_key, ca_cert) = two_nodes_over_mutual_tls(tmp_path)
    try:
        no.start(), jp.start()
        with httpx.Client(verify=context) as client:
            made = client.post(f"{no.base}/cases", json=jp_no_request(),
                               headers={"Authorization": f"Bearer {no_token}"})
            assert made.status_code == 201
            case_id = made.json()["id"]
            wait_until(lambda: "EnvelopeDelivered" in [e["event"] for e in client.get(
                f"{no.base}/cases/{case_id}/history", headers={"Authorization": f"Bearer {no_token}"}).json()["data"]])
        # Without a client certificate the TLS handshake is refused.
        with pytest.raises((httpx.ConnectError, httpx.ReadError, ssl.SSLError, httpx.RemoteProtocolError)):
            with httpx.Client(verify=client_context(ca)) as anonymous:
                anonymous.get(f"{jp.base}/exchange/directory").raise_for_status()
        # A certificate from another CA is refused too.
        elsewhere = tmp_path / "other-ca"
        elsewhere.mkdir()
        _, other_key, other_cert = make_ca(elsewhere)
        stranger = issue(elsewhere, "stranger", other_key, other_cert)
        with pytest.raises((httpx.ConnectError, httpx.ReadError, ssl.SSLError, httpx.RemoteProtocolError)):
            with httpx.Client(verify=client_context(ca, *stranger)) as foreign:
                foreign.get(f"{jp.base}/exchange/directory").raise_for_status()
    finally:
        no.stop()
        jp.stop()
