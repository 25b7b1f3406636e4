"""Node-to-node HTTPS with mutual TLS: certificates from a configured CA."""

from __future__ import annotations

import ssl

import httpx
import pytest

from tests.factories import jp_no_request
from tests.servers import two_administrations, wait_until
from tests.tls import client_context, issue, make_ca


def test_two_nodes_exchange_over_mutual_tls_and_refuse_clients_without_a_certificate(tmp_path):
    ca, ca_key, ca_cert = make_ca(tmp_path)
    certs = {admin: issue(tmp_path, admin.lower(), ca_key, ca_cert) for admin in ("NO", "JP")}
    tls = {admin: {"CMAA_TLS_CERT": str(cert), "CMAA_TLS_KEY": str(key), "CMAA_TLS_CA": str(ca)}
           for admin, (cert, key) in certs.items()}
    no, jp, no_token, jp_token = two_administrations(tmp_path, f"sqlite:///{tmp_path / 'no.db'}",
                                                     f"sqlite:///{tmp_path / 'jp.db'}", tls=tls)
    official_client = issue(tmp_path, "official", ca_key, ca_cert)
    context = client_context(ca, *official_client)
    no.verify = jp.verify = context
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
