"""Schemathesis against the published contract, on a live node: no 5xx, every response as documented.

Bounded for CI (examples per operation, one seed); set CMAA_FUZZ_SEED and CMAA_FUZZ_EXAMPLES
to explore further, e.g. CMAA_FUZZ_EXAMPLES=200 for a long local run.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.servers import cli_env, cmaa, node_process

OPENAPI = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
          "unsupported_method,allow_header_conformance")  # RFC 9110 §15.5.6: every 405 names what is allowed


def test_generated_requests_never_get_a_5xx_and_every_response_matches_the_spec(tmp_path):
    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'cmaa.db'}",
                  CMAA_RATE_LIMIT_OFFICIAL="1000000/minute",  # let the fuzzer reach the logic
                  CMAA_LOG_LEVEL="warning")
    assert cmaa(env, "init").returncode == 0
    added = cmaa(env, "officials", "add", "fuzzer", "--name", "Fuzzer", "--role", "official", "--role", "auditor",
                 "--role", "operator", "--role", "dpo")
    assert added.returncode == 0, added.stderr
    token = cmaa(env, "credentials", "issue", "fuzzer").stdout.strip()
    st = Path(sys.executable).parent / "st"
    with node_process(env) as base:
        run = subprocess.run(
            [str(st), "run", str(OPENAPI), "--url", base, "-H", f"Authorization: Bearer {token}",
             "--checks", CHECKS, "--phases", "examples,coverage,fuzzing",
             "--max-examples", os.environ.get("CMAA_FUZZ_EXAMPLES", "10"),
             # One worker: with two threads, Hypothesis's description of its strategies parses Python source
             # in both at once, and CPython 3.11's ast module then fails now and then with "AST constructor
             # recursion depth mismatch" (a Runtime Error of the tool, not of the node; 2 of 6 loaded runs).
             "--seed", os.environ.get("CMAA_FUZZ_SEED", "20261122"), "--workers", "1", "--no-color"],
            capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False)
    summary = run.stdout[-4000:]
    assert run.returncode == 0, _what_went_wrong(run.stdout) + summary
    assert " passed" in summary and "generated" in summary


def _what_went_wrong(output: str) -> str:
    """Schemathesis's FAILURES and ERRORS sections (a runtime error's traceback among them), which the
    summary at the end only counts: what a failed run in CI must show to be understood afterwards."""
    sections = [output[i:i + 6000] for heading in ("FAILURES", "ERRORS")
                if (i := output.find(f" {heading} ")) >= 0]
    return "\n".join(sections) + "\n...\n" if sections else ""
