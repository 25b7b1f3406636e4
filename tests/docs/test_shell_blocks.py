"""Every shell block of README.md and docs/*.md runs, so the documents cannot drift from the code.

Each ```sh / ```bash block runs with bash -euo pipefail in a fresh temporary directory (the README's
blocks from the checkout, as a reader pastes them), with this checkout's `cmaa` first on the PATH,
no CMAA_* setting inherited and free ports for the tour's nodes. A block that cannot run here says
so just above it: `<!-- not run: <reason> -->`; the test lists it as skipped with that reason.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"(?:<!-- not run: (?P<reason>[^>]+?) -->\n)?```(?P<lang>sh|bash|shell|console)\n(?P<body>.*?)```",
                   re.S)


def shell_blocks():
    for document in DOCUMENTS:
        text = document.read_text()
        for number, match in enumerate(BLOCK.finditer(text), 1):
            line = text[:match.start("body")].count("\n")
            yield pytest.param(document, match["body"], match["reason"],
                               id=f"{document.relative_to(ROOT)}:{line}#{number}")


def test_the_extractor_sees_every_fenced_shell_block():
    for document in DOCUMENTS:
        fences = re.findall(r"^```(sh|bash|shell|console)\s*$", document.read_text(), re.M)
        assert len(fences) == len([b for b in shell_blocks() if b.values[0] == document]), document


@pytest.mark.parametrize("document, body, reason", list(shell_blocks()))
def test_a_shell_block_runs(document, body, reason, tmp_path):
    if reason:
        pytest.skip(f"not run: {reason}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CMAA_")}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", HOME=str(tmp_path),
               NO_PORT=str(free_port()), JP_PORT=str(free_port()), TMPDIR=str(tmp_path))
    cwd = ROOT if document.name == "README.md" else tmp_path
    script = tmp_path / "block.sh"
    script.write_text(body)
    # its own process group: whatever the block left running is stopped with it
    process = subprocess.Popen(["bash", "-euo", "pipefail", str(script)], cwd=cwd, env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=420)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 15)
        output, _ = process.communicate()
        pytest.fail(f"{document.name}: the block did not finish in 420 s:\n{output[-3000:]}")
    finally:
        try:
            os.killpg(process.pid, 15)
        except ProcessLookupError:
            pass
    assert process.returncode == 0, f"{document.name}: exit {process.returncode}:\n{output[-3000:]}"
    assert "Traceback" not in output, output[-3000:]
