"""The `cmaa` CLI cannot break a node by accident: it creates a node only when asked (`init`,
`serve`), refuses another administration's store, validates before it acts, and answers every
error with a message instead of a traceback."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import cli_env, cmaa

ROOT = Path(__file__).resolve().parents[2]


def run(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess:
    """`cmaa` from another working directory, as an operator in their home directory would run it."""
    path = os.pathsep.join(filter(None, (str(ROOT), env.get("PYTHONPATH"))))  # keeps the suite's tests/child_hooks
    return subprocess.run([sys.executable, "-m", "service.cli", *args], env={**env, "PYTHONPATH": path},
                          cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def snapshot(data_dir: Path) -> dict:
    """What a refused command must leave as it was: every file (but SQLite's WAL and shared-memory
    files, which readers touch) with its bytes' digest, and every row of every table of the store."""
    files = {}
    for path in sorted(data_dir.rglob("*")):
        if path.is_file() and not path.name.endswith(("-wal", "-shm")) and path.name != "cmaa.db":
            files[str(path.relative_to(data_dir))] = hashlib.sha256(path.read_bytes()).hexdigest()
    rows = {}
    database = data_dir / "cmaa.db"
    if database.exists():
        with sqlite3.connect(database) as connection:
            tables = [t for (t,) in connection.execute("select name from sqlite_master where type = 'table'")]
            for table in tables:
                rows[table] = sorted(map(repr, connection.execute(f'select * from "{table}"')))
    return {"files": files, "rows": rows, "listing": sorted(p.name for p in data_dir.iterdir())}


@pytest.fixture
def node_env(tmp_path):
    env = cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'data' / 'cmaa.db'}",
                  CMAA_BACKUP_PASSPHRASE="a-long-backup-passphrase")
    for args in (("init",), ("officials", "add", "no-hansen", "--name", "Kari Hansen", "--role", "official"),
                 ("partners", "add", "JP", "--name", "Japan Customs", "--agreement", "jp-no-2016")):
        result = cmaa(env, *args)
        assert result.returncode == 0, result.stderr
    return env


# -- a node is created only when asked -----------------------------------------------------------
NOT_CREATING = [
    ("backup", "{tmp}/backup"), ("keys", "fingerprint"), ("keys", "list"), ("officials", "list"),
    ("officials", "add", "no-x", "--name", "X", "--role", "official"), ("credentials", "issue", "operator"),
    ("audit", "seal"), ("audit", "export", "--output", "{tmp}/bundle.json"), ("courier", "run-once"),
    ("dpo", "sweep"), ("keys", "export-directory"), ("agreements", "list"),
]


@pytest.mark.parametrize("args", NOT_CREATING, ids=lambda a: " ".join(a[:2]))
def test_a_command_other_than_init_refuses_where_there_is_no_node_and_creates_nothing(tmp_path, args):
    home = tmp_path / "home"
    home.mkdir()
    env = cli_env(Path("relative/data"), "", CMAA_BACKUP_PASSPHRASE="a-long-backup-passphrase")
    del env["CMAA_DATABASE_URL"]
    result = run(env, *(a.format(tmp=tmp_path) for a in args), cwd=home)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"no node at {home / 'relative' / 'data'}" in result.stderr  # the absolute path
    assert "run `cmaa init`" in result.stderr
    assert list(home.iterdir()) == [] and not (tmp_path / "backup").exists()
    assert "Traceback" not in result.stderr


def test_init_says_it_creates_a_node_and_prints_absolute_paths(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = cli_env(Path("relative/data"), "")
    del env["CMAA_DATABASE_URL"]
    created = run(env, "init", cwd=home)
    assert created.returncode == 0, created.stderr
    data = home / "relative" / "data"
    assert f"no node at {data}: creating the node of NO" in created.stderr.replace("\n", "")
    assert f"node NO created at {data} (store: {data / 'cmaa.db'})" in created.stdout.replace("\n", "")
    again = run(env, "init", cwd=home)
    assert again.returncode == 0 and "node NO already at" in again.stdout
    assert "creating" not in again.stderr


def test_the_courier_names_its_store_by_absolute_path(tmp_path):
    """Every command prints absolute paths (docs/operator-guide.md): also the courier's start line."""
    import signal

    home = tmp_path / "home"
    home.mkdir()
    env = cli_env(Path("relative/data"), "sqlite:///relative/data/cmaa.db")
    assert run(env, "init", cwd=home).returncode == 0
    path = os.pathsep.join(filter(None, (str(ROOT), env.get("PYTHONPATH"))))
    courier = subprocess.Popen([sys.executable, "-m", "service.cli", "courier", "run"], cwd=home, text=True,
                               env={**env, "PYTHONPATH": path}, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        line = next(line for line in courier.stderr if "running" in line)
    finally:
        courier.send_signal(signal.SIGTERM)
        courier.communicate(timeout=30)
    assert f"cmaa courier for NO running (store: {home / 'relative' / 'data' / 'cmaa.db'})" in line


def test_a_store_of_another_administration_is_refused_by_every_command(node_env, tmp_path):
    before = snapshot(tmp_path / "data")
    for args in (("keys", "fingerprint"), ("init",), ("officials", "list"), ("backup", str(tmp_path / "b"))):
        result = cmaa({**node_env, "CMAA_ADMINISTRATION": "SE"}, *args)
        assert result.returncode == 1, (args, result.stdout)
        assert "belongs to the node of NO, not SE" in result.stderr, result.stderr
    assert snapshot(tmp_path / "data") == before


def test_a_store_whose_node_key_is_gone_is_not_given_a_new_identity(node_env, tmp_path):
    (tmp_path / "data" / "keys" / "node-sig.pem").unlink()
    for args in (("keys", "fingerprint"), ("init",)):
        result = cmaa(node_env, *args)
        assert result.returncode == 1 and "node key is missing" in result.stderr, result.stderr
    assert not (tmp_path / "data" / "keys" / "node-sig.pem").exists()


# -- validate, then act ------------------------------------------------------------------------------
BAD = [
    ("officials", "add", "Bad Id!", "--name", "X", "--role", "official"),
    ("officials", "add", "no-x", "--name", "X", "--role", "wizard"),
    ("officials", "revoke", "nobody", "--reason", "left"),
    ("credentials", "issue", "nobody"),
    ("credentials", "issue", "no-hansen", "--expires-in-days", "0"),
    ("credentials", "revoke", "nosuch", "--reason", "lost"),
    ("partners", "add", "SE", "--name", "Sweden", "--agreement", "jp-no-2016"),
    ("partners", "add", "JP", "--name", "Japan", "--agreement", "nosuch"),
    ("partners", "official", "XX", "xx-a", "--name", "A"),
    ("partners", "import-directory", "JP", "{tmp}/absent.jws", "--fingerprint", "abc"),
    ("partners", "import-directory", "JP", "{tmp}/garbage.jws", "--fingerprint", "abc"),
    ("partners", "clear-alarm", "JP", "--resolution", "none raised"),
    ("agreements", "period", "nosuch", "--in-force-from", "2027-01-01"),
    ("agreements", "period", "jp-no-2016", "--in-force-from", "2027-13-45"),
    ("agreements", "set-parameter", "nordic-1981", "recovery.minimum", "not json"),
    ("agreements", "set-parameter", "nordic-1981", "recovery.minimum", '{{"NOK": "-1"}}'),
    ("agreements", "set-parameter", "nordic-1981", "recovery.article", '"Art. 1"'),
    ("keys", "issue", "ghost"),
    ("keys", "rotate", "nobody"),
    ("keys", "export-directory", "--output", "{tmp}/absent/dir/directory.jws"),
    ("audit", "export", "--output", "{tmp}/absent/dir/bundle.json"),
    ("audit", "export", "--output", "{tmp}/bundle.json", "--case", "not-a-uuid"),
    ("audit", "export", "--output", "{tmp}/bundle.json", "--since", "yesterday"),
    ("audit", "export", "--output", "{tmp}/bundle.json", "--token-file", "{tmp}/absent.token"),
    ("audit", "verify", "{tmp}/absent.json"),
    ("backup", "{tmp}/garbage.jws"),
    ("restore", "{tmp}/absent-backup"),
    ("dpo", "report", "--id", "no-colon"),
    ("dpo", "report", "--name", "Ola Nordmann", "--born", "1990-02-31"),
    ("dpo", "report", "--subject-file", "{tmp}/absent.json"),
    ("dpo", "report", "--subject-file", "{tmp}/garbage.jws"),
    ("dpo", "erase", "--rule", "GDPR Art. 17", "--name", "Ola", "--token-file", "{tmp}/garbage.jws"),
    ("dpo", "restrict", "--reason", "x", "--name", "Ola", "--token-file", "{tmp}/absent.token"),
    ("dpo", "lift", "nosuch"),
    ("courier", "run", "--interval", "0"),
    ("openapi", "--output", "{tmp}/absent/dir/openapi.json"),
    ("init", "--unknown-option"),
]


def test_a_refused_command_changes_nothing_on_disk(node_env, tmp_path):
    (tmp_path / "garbage.jws").write_text("not a directory, not JSON")
    data = tmp_path / "data"
    before, outside = snapshot(data), sorted(p.name for p in tmp_path.iterdir())
    for args in BAD:
        result = cmaa(node_env, *(a.format(tmp=tmp_path) for a in args))
        assert result.returncode != 0, f"{args}: {result.stdout}"
        assert "Traceback" not in result.stderr, f"{args}: {result.stderr}"
        assert snapshot(data) == before, f"{args} changed the node"
        assert sorted(p.name for p in tmp_path.iterdir()) == outside, f"{args} left a file"


# -- messages, not tracebacks ---------------------------------------------------------------------
def test_every_error_class_is_one_or_two_lines_and_debug_shows_the_traceback(node_env, tmp_path):
    cases = {
        "missing file": (node_env, ("partners", "import-directory", "JP", str(tmp_path / "absent.jws"),
                                    "--fingerprint", "abc"), "No such file or directory"),
        "bad date": (node_env, ("agreements", "period", "jp-no-2016", "--in-force-from", "2027-02-30"),
                     "is not a date; write YYYY-MM-DD"),
        "unreachable PostgreSQL": ({**node_env, "CMAA_DATABASE_URL": "postgresql://postgres@127.0.0.1:9/cmaa"
                                    "?connect_timeout=1"}, ("officials", "list"), "store unavailable: postgresql://postgres@127.0.0.1:9/cmaa"),
        "wrong key passphrase": ({**node_env, "CMAA_KEY_PASSPHRASE": "not-the-passphrase-of-these-keys"},
                                 ("keys", "fingerprint"), "CMAA_KEY_PASSPHRASE does not open"),
        "bad setting": ({**node_env, "CMAA_PORT": "0"}, ("keys", "list"), "CMAA_PORT"),
        "no node": ({**node_env, "CMAA_DATA_DIR": str(tmp_path / "elsewhere"),
                     "CMAA_DATABASE_URL": f"sqlite:///{tmp_path / 'elsewhere' / 'cmaa.db'}"},
                    ("keys", "list"), "run `cmaa init`"),
        "refused by a rule": (node_env, ("credentials", "issue", "nobody"), "refused:"),
        "usage": (node_env, ("officials", "add"), "Missing argument"),
    }
    for name, (env, args, says) in cases.items():
        result = cmaa(env, *args)
        assert result.returncode != 0, name
        assert says in result.stderr, f"{name}: {result.stderr}"
        assert "Traceback" not in result.stderr + result.stdout, name
        assert len(result.stderr.strip().splitlines()) <= 2, f"{name}: {result.stderr}"
    debug = cmaa(node_env, "--debug", "partners", "import-directory", "JP", str(tmp_path / "absent.jws"),
                 "--fingerprint", "abc")
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "FileNotFoundError" in debug.stderr


def test_each_error_names_its_cause_and_its_fix_with_the_documented_exit_code(node_env, tmp_path):
    """What an operator met: every message says what is wrong (naming the file or option) and what to do."""
    import shutil

    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "cmaa.db").write_text("not a database " * 20)
    damaged = tmp_path / "damaged"
    shutil.copytree(tmp_path / "data", damaged)
    (damaged / "keys" / "node-sig.pem").write_text("xx\n")
    (tmp_path / "empty.json").write_text("{}")
    cases = {
        "missing passphrase file": ({**node_env, "CMAA_KEY_PASSPHRASE_FILE": str(tmp_path / "absent")},
                                    ("keys", "list"), 2,
                                    f"configuration error: CMAA_KEY_PASSPHRASE_FILE: cannot read {tmp_path / 'absent'}"),
        "corrupt store": ({**node_env, "CMAA_DATA_DIR": str(corrupt),
                           "CMAA_DATABASE_URL": f"sqlite:///{corrupt / 'cmaa.db'}"}, ("officials", "list"), 1,
                          f"store damaged: {corrupt / 'cmaa.db'} cannot be read (file is not a database): restore"),
        "damaged key, no passphrase": ({**node_env, "CMAA_DATA_DIR": str(damaged),
                                        "CMAA_DATABASE_URL": f"sqlite:///{damaged / 'cmaa.db'}"},
                                       ("keys", "fingerprint"), 1,
                                       f"the key file {damaged / 'keys' / 'node-sig.pem'} is damaged"),
        "missing token file": (node_env, ("audit", "verify", "http://127.0.0.1:9", "--token-file",
                                          str(tmp_path / "absent.token")), 1, str(tmp_path / "absent.token")),
        "not a bundle": (node_env, ("audit", "verify", str(tmp_path / "empty.json")), 2, "not an audit bundle"),
        "demo port": (node_env, ("demo", "--base-port", "70000"), 2, "'--base-port': 70000 is not a port"),
        "administration code": (node_env, ("partners", "add", "ZZZ", "--name", "Z", "--agreement", "jp-no-2016"), 1,
                                "an administration code is 2 capital letters"),
        "model validator": ({**node_env, "CMAA_TLS_CERT": str(tmp_path / "absent.pem")}, ("keys", "list"), 2,
                            "configuration error: CMAA_TLS_CERT and CMAA_TLS_KEY are set together"),
        "field validator": ({**node_env, "CMAA_ADMINISTRATION": "nor"}, ("keys", "list"), 2,
                            "configuration error: CMAA_ADMINISTRATION must be a two-letter"),
    }
    for name, (env, args, code, says) in cases.items():
        result = cmaa(env, *args)
        assert (result.returncode, name) == (code, name), result.stderr
        assert says in result.stderr, f"{name}: {result.stderr}"
        for wrong in ("ValueError", "Value error", "settings:", "CMAA_PORT", "manipulation", "not a party",
                      "cannot read the bundle", "CMAA_KEY_PASSPHRASE does not open", "Traceback", "DatabaseError"):
            assert wrong not in result.stderr + result.stdout, f"{name}: {result.stderr}"
        assert len(result.stderr.strip().splitlines()) <= 2, f"{name}: {result.stderr}"


def test_version_is_printed():
    from importlib.metadata import version

    result = cmaa(dict(os.environ), "--version")
    assert result.returncode == 0 and result.stdout.strip() == f"cmaa-exchange {version('cmaa-exchange')}"


# -- permissions ---------------------------------------------------------------------------------------
def modes(data: Path) -> dict[str, int]:
    found = {"keys/": (data / "keys").stat().st_mode & 0o777}
    for path in [data / "cmaa.db", *data.glob("cmaa.db-*"), *(data / "keys").iterdir()]:
        found[str(path.relative_to(data))] = path.stat().st_mode & 0o777
    return found


def test_the_store_is_0600_and_the_key_directory_0700_also_after_a_restore(node_env, tmp_path):
    import shutil

    data = tmp_path / "data"
    old_umask = os.umask(0o022)  # the usual umask: what the node creates must not depend on it
    try:
        assert cmaa(node_env, "officials", "list").returncode == 0
        expected = {name: (0o700 if name == "keys/" else 0o600) for name in modes(data)}
        assert modes(data) == expected
        made = cmaa(node_env, "backup", str(tmp_path / "backup"))
        assert made.returncode == 0, made.stderr
        shutil.rmtree(data)
        elsewhere = cmaa({**node_env, "CMAA_ADMINISTRATION": "SE"}, "restore", str(tmp_path / "backup"))
        assert elsewhere.returncode == 1 and "backup of the node of NO, not of SE" in elsewhere.stderr
        assert not data.exists()
        restored = cmaa(node_env, "restore", str(tmp_path / "backup"))
        assert restored.returncode == 0, restored.stderr
        after = modes(data)
        assert after and after == {name: (0o700 if name == "keys/" else 0o600) for name in after}
    finally:
        os.umask(old_umask)
