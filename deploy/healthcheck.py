"""The container's liveness check (Dockerfile HEALTHCHECK): GET /healthz on this node's configured port,
over TLS when the node serves TLS. Exit 0 when it answers 200.

Standard library only, so that it starts fast. Under mutual TLS (CMAA_TLS_CA) the node asks every client
for a certificate: the check presents the node's own. It talks to 127.0.0.1, which the certificate need
not name, so it does not check the server's name; it proves the process answers, nothing more.
"""

from __future__ import annotations

import os
import ssl
import sys
import urllib.request


def main() -> int:
    port = os.environ.get("CMAA_PORT", "8600")
    cert, key = os.environ.get("CMAA_TLS_CERT"), os.environ.get("CMAA_TLS_KEY")
    context = None
    if cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        context.load_cert_chain(cert, key)
    url = f"{'https' if cert else 'http'}://127.0.0.1:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as answer:
            return 0 if answer.status == 200 else 1
    except OSError as error:
        print(f"{url}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
