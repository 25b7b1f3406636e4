"""``cmaa backup`` and ``cmaa restore``: a node's store and keys, saved and brought back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adapters.backup import BackupError, check_backup_target, read_manifest, restore_backup, write_backup
from adapters.store import EventStore
from service.node import build_node
from service.settings import Settings


def backup_node(settings: Settings, dest: Path, keys_output: Path | None = None) -> dict[str, Any]:
    """Seal and sign a checkpoint, then snapshot the store and the keys (the node may keep running)."""
    check_backup_target(dest, settings.backup_passphrase or "", keys_output)
    node = build_node(settings)
    try:
        node.audit.seal_and_checkpoint()
        checkpoint = node.audit.checkpoint()
        log_state = {"administration": settings.administration, "node_key_fingerprint": node.exchange.node_fingerprint(),
                     "log_size": checkpoint.size, "log_root": checkpoint.root.hex(), "checkpoint": checkpoint.note}
    finally:
        node.close()
    return write_backup(url=settings.store_url, keys_dir=settings.keys_dir, dest=dest,
                        passphrase=settings.backup_passphrase or "", keys_output=keys_output, log_state=log_state)


def restore_node(settings: Settings, src: Path, keys_input: Path | None = None, *, force: bool = False) -> dict:
    """Bring a backup back into the store and key directory named by ``settings`` (node stopped),
    then check that the restored log reproduces the backed-up checkpoint's root."""
    # Validate, then act: the backup is read and matched to this node's administration before the
    # store is opened (opening a SQLite store creates its file).
    backed_up = read_manifest(src).get("administration")
    if backed_up and backed_up != settings.administration:
        raise BackupError(f"{src.resolve()} is a backup of the node of {backed_up}, not of {settings.administration} "
                          "(CMAA_ADMINISTRATION)")
    store = EventStore(settings.store_url)
    try:
        stored = store.recorder.max_notification_id() or 0
    finally:
        store.close()
    if stored and not force:
        raise BackupError(f"the target store already holds {stored} events; restore into an empty store, or pass "
                          "--force to replace it (stop every node process on it first)")
    manifest = restore_backup(url=settings.store_url, keys_dir=settings.keys_dir, src=src,
                              passphrase=settings.backup_passphrase or "", keys_input=keys_input)
    node = build_node(settings)
    try:
        size, root = node.audit.log.root(manifest["log_size"])
        if root.hex() != manifest["log_root"]:
            raise BackupError(f"the restored log's root at {size} leaves differs from the backup's checkpoint")
        if node.exchange.node_fingerprint() != manifest["node_key_fingerprint"]:
            raise BackupError("the restored node key is not the one the backup's checkpoint was signed with")
    finally:
        node.close()
    manifest["verified"] = True
    return manifest
