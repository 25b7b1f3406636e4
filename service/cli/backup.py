"""Backup and restore of a node's store and keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from service.cli.common import err, existing_settings, out, store_location
from service.settings import Settings


def backup(
    dest: Annotated[Path, typer.Argument(help="A new, empty directory for the backup")],
    keys_output: Annotated[Optional[Path], typer.Option(help="Write the encrypted key archive here instead "
                                                        "(keep keys apart from the data)")] = None,
) -> None:
    """Consistent online backup: the store (SQLite online backup API, or pg_dump) and the keys,
    encrypted under CMAA_BACKUP_PASSPHRASE. The node may keep running."""
    from adapters.backup import BackupError
    from service.ops.backups import backup_node

    try:
        manifest = backup_node(existing_settings(), dest, keys_output)
    except BackupError as error:
        err.print(f"[red]backup failed:[/red] {error}", highlight=False)
        raise typer.Exit(1) from None
    keys = keys_output.resolve() if keys_output else dest.resolve() / manifest["keys"]
    out.print(f"backed up the store to {dest.resolve() / manifest['store']} and the keys to {keys}; Merkle log "
              f"{manifest['log_size']} leaves, root {manifest['log_root']}", highlight=False)


def restore(
    src: Annotated[Path, typer.Argument(help="A directory written by `cmaa backup`")],
    keys: Annotated[Optional[Path], typer.Option(help="The encrypted key archive, if kept elsewhere")] = None,
    force: Annotated[bool, typer.Option(help="Replace a store that already holds events")] = False,
) -> None:
    """Restore a backup into the store and key directory of the CMAA_* environment (node stopped),
    then check the restored Merkle log against the backup's signed checkpoint."""
    from adapters.backup import BackupError
    from service.ops.backups import restore_node

    settings = Settings()
    try:
        manifest = restore_node(settings, src, keys, force=force)
    except BackupError as error:
        err.print(f"[red]restore failed:[/red] {error}", highlight=False)
        raise typer.Exit(1) from None
    out.print(f"restored the store {store_location(settings)} and {len(manifest['restored_keys'])} key file(s) in "
              f"{settings.keys_dir.resolve()} from {src.resolve()}; the log reproduces the backup's checkpoint "
              f"({manifest['log_size']} leaves, root {manifest['log_root']})", highlight=False)
