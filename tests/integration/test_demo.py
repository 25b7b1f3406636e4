"""`cmaa demo` walks one case between two real nodes."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from tests.servers import cmaa


def test_the_demo_walks_a_case_end_to_end():
    env = {k: v for k, v in os.environ.items() if not k.startswith("CMAA_")}
    result = cmaa(env, "demo", "--base-port", "0")
    assert result.returncode == 0, result.stderr + result.stdout
    out = " ".join(result.stdout.split())
    assert "3. NO stored JP's signed receipt" in out
    assert "5. JP replied with restricted information" in out
    assert "EnvelopeDelivered" in out and "PartnerStepReceived" in out
    left = re.search(r"Demo data left in (\S+)", out)  # it says where its files are
    assert left and {p.name for p in Path(left.group(1)).iterdir()} >= {"no", "jp"}, out[-300:]
    shutil.rmtree(left.group(1))
