"""`cmaa backup` / `cmaa restore`: a node lost to a disaster comes back whole and verifiable."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from service.http.app import create_app
from service.ops.backups import backup_node, restore_node
from service.node import build_node
from tests.exchange_helpers import pair
from tests.factories import client_for, configure, jp_no_request, make_node
from tests.servers import cli_env, cmaa

PASSPHRASE = "correct horse battery staple"


def _wipe_store(url: str, data_dir: Path) -> None:
    """The disaster: the database and the key directory are gone."""
    if url.startswith("sqlite"):
        database = Path(url.removeprefix("sqlite:///"))
        for path in database.parent.glob(database.name + "*"):  # with -wal and -shm
            path.unlink()
    else:
        import psycopg

        schema = url.split("schema=")[1]
        with psycopg.connect(url.split("?")[0], autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            conn.execute(f'CREATE SCHEMA "{schema}"')
    shutil.rmtree(data_dir / "keys")


@pytest.fixture
def filled(store_url, tmp_path, clock):
    """A node with officials, a partner and a case; closed (its files stay)."""
    node = make_node(store_url, tmp_path, clock)
    who = configure(node)
    with client_for(node) as api:
        case = api.post("/cases", json=jp_no_request(), headers=who.official).json()
    node.close()
    return store_url, tmp_path / "data", case, who


def test_backup_then_restore_after_losing_store_and_keys_with_the_cli(filled, tmp_path):
    url, data_dir, case, who = filled
    env = cli_env(data_dir, url, CMAA_BACKUP_PASSPHRASE=PASSPHRASE)
    made = cmaa(env, "backup", str(tmp_path / "backup"), "--keys-output", str(tmp_path / "vault" / "keys.enc"))
    assert made.returncode == 0, made.stdout + made.stderr
    manifest = json.loads((tmp_path / "backup" / "manifest.json").read_text())
    assert manifest["log_size"] > 0 and not (tmp_path / "backup" / "keys.enc").exists()
    assert b"BEGIN" not in (tmp_path / "vault" / "keys.enc").read_bytes()  # the key archive is encrypted

    _wipe_store(url, data_dir)
    restored = cmaa(env, "restore", str(tmp_path / "backup"), "--keys", str(tmp_path / "vault" / "keys.enc"))
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "reproduces the backup's checkpoint" in " ".join(restored.stdout.split())

    # The audit chain verifies against the checkpoint the backup recorded (as a partner would hold it).
    held = tmp_path / "held-checkpoint.txt"
    held.write_text(manifest["checkpoint"])
    bundle = tmp_path / "bundle.json"
    assert cmaa(env, "audit", "export", "--output", str(bundle)).returncode == 0
    verified = cmaa({"PATH": env["PATH"]}, "audit", "verify", str(bundle), "--against", str(held))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "VERIFIED" in verified.stdout

    # The node is back: same key, same case, same credentials.
    node = build_node(make_node(url, tmp_path, None).settings)
    try:
        assert node.exchange.node_fingerprint() == manifest["node_key_fingerprint"]
        with client_for(node) as api:
            back = api.get(f"/cases/{case['id']}", headers=who.official)
            assert back.status_code == 200 and back.json()["content"] == case["content"]
    finally:
        node.close()


def test_a_wrong_passphrase_restores_nothing(filled, tmp_path):
    url, data_dir, _, _ = filled
    settings = make_node(url, tmp_path, None, backup_passphrase=PASSPHRASE).settings
    backup_node(settings, tmp_path / "backup")
    _wipe_store(url, data_dir)
    from adapters.backup import BackupError

    wrong = settings.model_copy(update={"backup_passphrase": "not the passphrase at all"})
    with pytest.raises(BackupError, match="passphrase does not open"):
        restore_node(wrong, tmp_path / "backup")
    assert not (data_dir / "keys").exists() or not any((data_dir / "keys").iterdir())
    node = build_node(settings)
    try:
        assert (node.store.recorder.max_notification_id() or 0) == 0  # the store was not touched
    finally:
        node.close()


def test_restore_refuses_a_store_that_holds_events_unless_forced(filled, tmp_path):
    url, _, _, _ = filled
    settings = make_node(url, tmp_path, None, backup_passphrase=PASSPHRASE).settings
    backup_node(settings, tmp_path / "backup")
    from adapters.backup import BackupError

    with pytest.raises(BackupError, match="already holds"):
        restore_node(settings, tmp_path / "backup")
    assert restore_node(settings, tmp_path / "backup", force=True)["verified"] is True


def test_backup_needs_a_passphrase_and_an_empty_directory(filled, tmp_path):
    url, _, _, _ = filled
    from adapters.backup import BackupError

    settings = make_node(url, tmp_path, None).settings
    with pytest.raises(BackupError, match="CMAA_BACKUP_PASSPHRASE"):
        backup_node(settings, tmp_path / "backup")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "other").write_text("x")
    with pytest.raises(BackupError, match="not empty"):
        backup_node(settings.model_copy(update={"backup_passphrase": PASSPHRASE}), tmp_path / "used")


def test_a_damaged_backup_is_refused_before_anything_is_restored(filled, tmp_path):
    url, data_dir, _, _ = filled
    settings = make_node(url, tmp_path, None, backup_passphrase=PASSPHRASE).settings
    manifest = backup_node(settings, tmp_path / "backup")
    store_file = tmp_path / "backup" / manifest["store"]
    store_file.write_bytes(store_file.read_bytes()[:-10] + b"0123456789")
    _wipe_store(url, data_dir)
    from adapters.backup import BackupError

    with pytest.raises(BackupError, match="damaged or altered"):
        restore_node(settings, tmp_path / "backup")


def _rewire(no_node, jp_side, clock):
    """A restored NO node, connected to the running JP node again."""
    node = build_node(no_node.settings, clock=clock)
    node.courier.http = TestClient(create_app(node=jp_side.node, run_courier=False), raise_server_exceptions=False)
    jp_side.node.courier.http = TestClient(create_app(node=node, run_courier=False), raise_server_exceptions=False)
    return node


def _send(node, token, clock) -> int:
    with TestClient(create_app(node=node, run_courier=False), raise_server_exceptions=False) as api:
        assert api.post("/cases", json=jp_no_request(), headers=token).status_code == 201
    node.audit.seal_and_checkpoint()
    node.audit.checkpoint()
    return node.courier.deliver_due()


@pytest.mark.parametrize("backup_when", ["after the last exchange", "before the last exchange"])
def test_partners_checkpoints_after_a_restore(backup_when, tmp_path, clock):
    """A backup that holds everything the partner witnessed continues the partner's view of the
    log; an older one would rewrite witnessed history, and the partner raises its alarm."""
    no, jp = pair(f"sqlite:///{tmp_path / 'no.db'}", f"sqlite:///{tmp_path / 'jp.db'}", tmp_path, clock)
    settings = no.node.settings.model_copy(update={"backup_passphrase": PASSPHRASE})
    try:
        assert _send(no.node, no.official, clock) == 1
        if backup_when == "before the last exchange":
            backup_node(settings, tmp_path / "backup")
        assert _send(no.node, no.official, clock) == 1  # JP now holds NO's checkpoint of this moment
        if backup_when == "after the last exchange":
            backup_node(settings, tmp_path / "backup")
        no.node.close()
        _wipe_store(settings.store_url, settings.data_dir)
        restore_node(settings, tmp_path / "backup")

        restored = _rewire(no.node, jp, clock)
        try:
            outcome = _send(restored, no.official, clock)
            [row] = [r for r in restored.store.exchange._select("WHERE status != 'delivered'", ())] or [None]
            if backup_when == "after the last exchange":
                assert outcome == 1 and row is None  # consistent: JP accepted the continued log
                assert jp.node.directory.directory().partners["NO"].get("alarm") is None
            else:
                assert row is not None and row["status"] == "rejected"
                assert json.loads(row["rejection"])["step"] == 13  # JP saw witnessed history rewritten
        finally:
            restored.close()
    finally:
        jp.api.close()
        jp.node.close()
        no.api.close()
