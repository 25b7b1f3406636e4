"""The suite-wide log scan (tests/conftest.py) finds what it looks for."""

from __future__ import annotations

import io
import json
import logging

from service.ops.observability import JsonFormatter
from tests.conftest import scan_logs


def test_the_scan_finds_personal_data_tokens_and_key_material(tmp_path):
    (tmp_path / "node.log").write_text("\n".join([
        '{"msg": "request", "route": "/cases"}',
        '{"msg": "oops", "detail": "Nordlys Import AS"}',
        '{"msg": "auth", "token": "cmaa.0123456789abcdef.abcdefghijklmnopqrstuvwxyz012345"}',
        '{"jwk": {"kty": "OKP", "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}}',
    ]))
    hits = scan_logs(str(tmp_path))
    assert len(hits) == 3
    assert "node.log:2" in hits[0] and "node.log:3" in hits[1] and "node.log:4" in hits[2]


def test_a_clean_log_passes(tmp_path):
    (tmp_path / "node.log").write_text('{"msg": "request", "route": "/cases/{case_id}", "status": 200}\n')
    assert scan_logs(str(tmp_path)) == []


def test_exception_messages_stay_out_of_the_log_but_the_frames_are_kept():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test-scan")
    logger.addHandler(handler)
    name = "-".join(["Kari", "Nordmann", "1970"])  # built at run time: not in any source line
    try:
        try:
            raise ValueError(f"target name: {name}")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    entry = json.loads(stream.getvalue())
    assert entry["error"] == "ValueError" and "test_log_scan.py" in entry["trace"]
    assert name not in stream.getvalue()
