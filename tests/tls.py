"""A throw-away CA and certificates for 127.0.0.1, for mutual-TLS tests."""

from __future__ import annotations

import ipaddress
import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path: Path, key) -> None:
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))


def make_ca(directory: Path) -> tuple[Path, object, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(_name("cmaa test CA")).issuer_name(_name("cmaa test CA"))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path = directory / "ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, key, cert


def issue(directory: Path, name: str, ca_key, ca_cert) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH,
                                                  ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key_path, key)
    return cert_path, key_path


def client_context(ca: Path, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca))
    if cert:
        context.load_cert_chain(str(cert), str(key))
    return context


def two_nodes_over_mutual_tls(tmp_path: Path):
    """NO and JP (``tests.servers.two_administrations``, SQLite) serving under mutual TLS from one test CA.
    Returns the two node processes, their officials' tokens, an official's client context (a certificate
    from the CA) and the CA as (path, key, certificate), for certificates of the test's own."""
    from tests.servers import two_administrations

    ca, ca_key, ca_cert = make_ca(tmp_path)
    certs = {admin: issue(tmp_path, admin.lower(), ca_key, ca_cert) for admin in ("NO", "JP")}
    tls = {admin: {"CMAA_TLS_CERT": str(cert), "CMAA_TLS_KEY": str(key), "CMAA_TLS_CA": str(ca)}
           for admin, (cert, key) in certs.items()}
    no, jp, no_token, jp_token = two_administrations(tmp_path, f"sqlite:///{tmp_path / 'no.db'}",
                                                     f"sqlite:///{tmp_path / 'jp.db'}", tls=tls)
    context = client_context(ca, *issue(tmp_path, "official", ca_key, ca_cert))
    no.verify = jp.verify = context
    return no, jp, no_token, jp_token, context, (ca, ca_key, ca_cert)
