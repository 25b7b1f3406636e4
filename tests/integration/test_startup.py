"""Start-up against a store that cannot be reached: one line, a non-zero exit, no traceback."""

from __future__ import annotations

from tests.servers import cli_env, cmaa, free_port


def test_serve_against_an_unreachable_postgresql_says_so_in_one_line_and_exits_3(tmp_path):
    nothing_listens = free_port()
    env = cli_env(tmp_path / "data", f"postgresql://postgres:secret@127.0.0.1:{nothing_listens}/cmaa")
    result = cmaa(env, "serve", "--port", str(free_port()))
    assert result.returncode == 3
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("store unavailable: postgresql://postgres:***@127.0.0.1:")
    assert "secret" not in result.stderr and "Traceback" not in result.stderr
