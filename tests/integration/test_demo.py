"""`cmaa demo` walks one case between two real nodes."""

from __future__ import annotations

from tests.servers import cmaa, free_port


def test_the_demo_walks_a_case_end_to_end(tmp_path):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("CMAA_")}
    port = free_port()
    while True:  # two consecutive free ports
        if port + 1 < 65535:
            break
        port = free_port()
    result = cmaa(env, "demo", "--base-port", str(port))
    assert result.returncode == 0, result.stderr + result.stdout
    out = " ".join(result.stdout.split())
    assert "3. NO stored JP's signed receipt" in out
    assert "5. JP replied with restricted information" in out
    assert "EnvelopeDelivered" in out and "PartnerStepReceived" in out
