"""Every shell block of README.md and docs/*.md runs, so the documents cannot drift from the code.

Each ```sh / ```bash block runs as a reader pastes it: bash -euo pipefail, in a fresh temporary directory
(the README's blocks from the checkout, whose `.venv/bin` the tour puts on the PATH), with this checkout's
`cmaa` first on the PATH, no CMAA_* setting inherited, and free ports in CMAA_PORT, NO_PORT and JP_PORT
(the blocks default to 8600, 8710 and 8711). The blocks start their own SQLite nodes in the background and
wait for them; whatever a block left running is stopped with its process group, and the test checks its
ports are free again.

Two conventions, both visible in the rendered document (the first line of the block):

- ``# not run by the docs test: <reason>``: the block is exempt (it serves forever, or is the test suite);
  there are at most four, each with its reason, and the test lists them;
- ``# after the README's tour, ...``: the block continues the README's ten-minute tour in the same shell;
  the test runs the tour, then the block, as one script.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHELL = ("sh", "bash", "shell", "console", "zsh")
FENCE = re.compile(r"^```(?P<lang>[\w-]*)[ \t]*\n(?P<body>.*?)^```[ \t]*$", re.S | re.M)
EXEMPT = re.compile(r"\A# not run by the docs test: (?P<reason>.+)$", re.M)
AFTER_TOUR = re.compile(r"\A# after the README's tour\b")
MOST_EXEMPT = 4  # the README's two commands, an install into /opt, the compose example (Docker)


def fenced_blocks():
    """(document, line, language, body) of every fenced block."""
    for document in DOCUMENTS:
        text = document.read_text()
        for match in FENCE.finditer(text):
            yield document, text[:match.start("body")].count("\n"), match["lang"], match["body"]


def shell_blocks():
    return [(d, line, body) for d, line, lang, body in fenced_blocks() if lang in SHELL]


def the_tour() -> str:
    tours = [body for d, _, body in shell_blocks() if d.name == "README.md" and "mktemp -d" in body
             and not EXEMPT.match(body)]
    assert len(tours) == 1, "the README has one ten-minute tour"
    return tours[0]


def runnable():
    for document, line, body in shell_blocks():
        if not EXEMPT.match(body):
            yield pytest.param(document, body, id=f"{document.relative_to(ROOT)}:{line}")


def test_the_extractor_sees_every_fenced_shell_block():
    for document in DOCUMENTS:
        fences = re.findall(r"^```(?:sh|bash|shell|console|zsh)\s*$", document.read_text(), re.M)
        assert len(fences) == len([b for b in shell_blocks() if b[0] == document]), document
    assert len(list(runnable())) >= 7  # the tour, api, auditing, operator guide (2), personal data, walkthroughs


def test_no_commands_hide_in_blocks_that_are_not_shell():
    """A command block fenced as text, or with no language, would escape the test."""
    for document, line, lang, body in fenced_blocks():
        if lang not in SHELL:
            commands = re.findall(r"^\$? ?(?:cmaa|curl|python3?|export|docker) [^\n]*", body, re.M)
            assert not commands, f"{document.name}:{line}: fenced as {lang or 'nothing'}: {commands}"


def test_few_blocks_are_exempt_and_each_says_why():
    exempt = [(d.name, line, EXEMPT.match(body)["reason"]) for d, line, body in shell_blocks() if EXEMPT.match(body)]
    print("\n".join(f"exempt: {name}:{line}: {reason}" for name, line, reason in exempt))
    assert len(exempt) <= MOST_EXEMPT, exempt
    assert all(len(reason.split()) >= 5 for _, _, reason in exempt), exempt
    # the old, invisible marker skipped blocks silently: it is gone
    assert not any("<!-- not run" in d.read_text() for d in DOCUMENTS)


def _port_is_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.parametrize("document, body", list(runnable()))
def test_a_shell_block_runs(document, body, tmp_path):
    ports = {name: free_port() for name in ("CMAA_PORT", "NO_PORT", "JP_PORT")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CMAA_")}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", HOME=str(tmp_path),
               TMPDIR=str(tmp_path), **{name: str(port) for name, port in ports.items()})
    continues_the_tour = bool(AFTER_TOUR.match(body))
    cwd = ROOT if document.name == "README.md" or continues_the_tour else tmp_path
    script = tmp_path / "block.sh"
    script.write_text((the_tour() if continues_the_tour else "") + body)
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
        _stop_group(process.pid, ports.values())
    assert process.returncode == 0, f"{document.name}: exit {process.returncode}:\n{output[-3000:]}"
    assert "Traceback" not in output, output[-3000:]


def _stop_group(group: int, ports) -> None:
    """Stop the nodes a block started, and check they are gone: their ports answer no more."""
    for signal in (15, 9):
        try:
            os.killpg(group, signal)
        except ProcessLookupError:
            pass  # the block's own trap stopped them; they may still be draining
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if all(_port_is_free(port) for port in ports):
                return
            time.sleep(0.2)
    pytest.fail(f"a node the block started still listens on one of {sorted(ports)}")
