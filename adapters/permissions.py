"""Files only the node's user may read: the store (SQLite) 0600, the key directory 0700."""

from __future__ import annotations

import os
from pathlib import Path


def private_file(path: Path) -> None:
    """Create ``path`` empty with mode 0600 if missing; tighten it to 0600 if it exists."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)
    except PermissionError:  # another user's file (read-only use): theirs to set
        pass


def private_dir(path: Path) -> None:
    """Create ``path`` (and parents) if missing; the directory itself mode 0700."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        os.chmod(path, 0o700)
    except PermissionError:
        pass


def private_sqlite(database: Path) -> None:
    """The SQLite file and any WAL/shared-memory files beside it (SQLite gives them the file's mode)."""
    if not database.parent.exists():
        database.parent.mkdir(parents=True, mode=0o700)
    private_file(database)
    for suffix in ("-wal", "-shm"):
        companion = Path(f"{database}{suffix}")
        if companion.exists():
            private_file(companion)
