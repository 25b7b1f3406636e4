"""Consistent online backups of a node, and their restore.

A backup directory holds:

``store.sqlite``   the SQLite store, copied with SQLite's online backup API (a
                   consistent snapshot while the node keeps writing), or
``store.pgdump``   ``pg_dump --format=custom`` of the PostgreSQL store (one
                   snapshot transaction; ``pg_dump`` must be on the PATH)
``keys.enc``       the key directory as a tar archive, encrypted with AES-256-GCM
                   under a key derived (scrypt) from the backup passphrase. It can
                   be written elsewhere (``keys_output``): keys and data are kept
                   apart, so one stolen medium holds neither everything nor a
                   readable key.
``manifest.json``  what was saved: store kind, the Merkle log's size and root at
                   the snapshot, the latest signed checkpoint, SHA-256 of each file.

The data is dumped first, the keys after: keys are only ever added (a key file is
written before the event that publishes it), so the key archive holds every key
the data refers to.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import tarfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from sqlalchemy.engine import make_url

from adapters.permissions import private_dir, private_sqlite

MAGIC = b"CMAA-KEYS-1\n"
MANIFEST = "manifest.json"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


# -- the store ---------------------------------------------------------------------------
def _target(url: str) -> tuple[str, Any]:
    parsed = make_url(url)
    backend = parsed.drivername.partition("+")[0]
    if backend == "sqlite":
        return "sqlite", Path(parsed.database)
    if backend in ("postgresql", "postgres"):
        schema = parsed.query.get("schema")
        conninfo = parsed.set(drivername="postgresql", query={}).render_as_string(hide_password=False)
        return "postgresql", (conninfo, schema)
    raise BackupError(f"cannot back up a {backend!r} store")


def _pg_tool(name: str) -> str:
    tool = shutil.which(name)
    if tool is None:
        raise BackupError(f"{name} is not on the PATH: install the PostgreSQL client of the server's major version "
                          "(Debian: apt install postgresql-client)")
    return tool


def _run(args: list[str]) -> None:
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        # pg tools print the failing statement, never data values
        raise BackupError(f"{Path(args[0]).name} failed: {result.stderr.strip()[:800]}")


def dump_store(url: str, dest: Path) -> str:
    kind, where = _target(url)
    if kind == "sqlite":
        if not where.exists():
            raise BackupError(f"no SQLite store at {where}")
        source = sqlite3.connect(f"file:{where}?mode=ro", uri=True)
        target = sqlite3.connect(dest / "store.sqlite")
        try:
            source.backup(target)  # the online backup API: a consistent copy while writers go on
        finally:
            target.close()
            source.close()
        return "store.sqlite"
    conninfo, schema = where
    args = [_pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={dest / 'store.pgdump'}"]
    if schema:
        args.append(f"--schema={schema}")
    _run(args + [f"--dbname={conninfo}"])
    return "store.pgdump"


def load_store(url: str, src: Path) -> None:
    kind, where = _target(url)
    if kind == "sqlite":
        if not (src / "store.sqlite").exists():
            raise BackupError(f"{src} holds no SQLite store backup (store.sqlite); was it a PostgreSQL node?")
        for suffix in ("-wal", "-shm"):
            Path(f"{where}{suffix}").unlink(missing_ok=True)
        private_sqlite(where)
        source = sqlite3.connect(f"file:{src / 'store.sqlite'}?mode=ro", uri=True)
        target = sqlite3.connect(where)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        return
    if not (src / "store.pgdump").exists():
        raise BackupError(f"{src} holds no PostgreSQL backup (store.pgdump); was it a SQLite node?")
    conninfo, _ = where
    _run([_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--single-transaction",
          f"--dbname={conninfo}", str(src / "store.pgdump")])


# -- the keys ----------------------------------------------------------------------------
def _kdf(passphrase: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(passphrase.encode("utf-8"))


def seal_keys(keys_dir: Path, passphrase: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for path in sorted(keys_dir.iterdir()) if keys_dir.exists() else []:
            if path.is_file():
                archive.add(path, arcname=path.name)
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    header = MAGIC + salt + nonce
    return header + AESGCM(_kdf(passphrase, salt)).encrypt(nonce, buffer.getvalue(), header)


def open_keys(blob: bytes, passphrase: str) -> dict[str, bytes]:
    """Decrypt a key archive into memory: ``{file name: content}``."""
    if not blob.startswith(MAGIC):
        raise BackupError("keys.enc is not a cmaa key archive")
    header = blob[:len(MAGIC) + 28]
    salt, nonce = header[len(MAGIC):len(MAGIC) + 16], header[len(MAGIC) + 16:]
    try:
        plain = AESGCM(_kdf(passphrase, salt)).decrypt(nonce, blob[len(header):], header)
    except InvalidTag:
        raise BackupError("the backup passphrase does not open the key archive (or the file was altered)") from None
    files = {}
    with tarfile.open(fileobj=io.BytesIO(plain), mode="r:gz") as archive:
        for member in archive.getmembers():
            if not member.isfile() or "/" in member.name or member.name.startswith(".."):
                raise BackupError(f"unexpected entry {member.name!r} in the key archive")
            files[member.name] = archive.extractfile(member).read()
    return files


def check_keys_fit(files: dict[str, bytes], keys_dir: Path) -> None:
    for name, data in files.items():
        path = keys_dir / name
        if path.exists() and path.read_bytes() != data:
            raise BackupError(f"{path} exists with other content; restore into an empty key directory")


def write_keys(files: dict[str, bytes], keys_dir: Path) -> list[str]:
    private_dir(keys_dir)
    for name, data in files.items():
        fd = os.open(keys_dir / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # a file that was there keeps its mode through O_TRUNC: tighten it
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
    return sorted(files)


# -- the whole -------------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_backup_target(dest: Path, passphrase: str, keys_output: Path | None = None) -> None:
    """Refuse a backup that cannot be written, before anything is sealed, dumped or created."""
    if not passphrase or len(passphrase) < 12:
        raise BackupError("a backup passphrase of at least 12 characters is required (CMAA_BACKUP_PASSPHRASE)")
    if dest.exists() and not dest.is_dir():
        raise BackupError(f"{dest.resolve()} is not a directory; back up into a new directory")
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest.resolve()} is not empty; back up into a new directory")
    if keys_output is not None and keys_output.exists():
        raise BackupError(f"{keys_output.resolve()} exists; write the key archive to a new file")


def write_backup(*, url: str, keys_dir: Path, dest: Path, passphrase: str, keys_output: Path | None,
                 log_state: dict[str, Any]) -> dict[str, Any]:
    """``log_state`` is the Merkle log as sealed before the dump (size, root, checkpoint)."""
    check_backup_target(dest, passphrase, keys_output)
    dest.mkdir(parents=True, exist_ok=True)
    store_file = dump_store(url, dest)
    keys_path = keys_output or dest / "keys.enc"
    keys_path.parent.mkdir(parents=True, exist_ok=True)
    keys_path.write_bytes(seal_keys(keys_dir, passphrase))
    manifest = {"format": "cmaa-backup/1", "created_at": datetime.now(UTC).isoformat(),
                "store": store_file, "store_sha256": _sha256(dest / store_file),
                "keys": str(keys_path if keys_output else "keys.enc"), "keys_sha256": _sha256(keys_path),
                **log_state}
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def read_manifest(src: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((src / MANIFEST).read_text())
    except (OSError, ValueError):
        raise BackupError(f"{src} holds no readable {MANIFEST}: not a cmaa backup") from None
    if manifest.get("format") != "cmaa-backup/1":
        raise BackupError(f"{src}: unknown backup format {manifest.get('format')!r}")
    if _sha256(src / manifest["store"]) != manifest["store_sha256"]:
        raise BackupError(f"{src / manifest['store']} does not match the manifest's SHA-256: damaged or altered")
    return manifest


def restore_backup(*, url: str, keys_dir: Path, src: Path, passphrase: str, keys_input: Path | None) -> dict:
    manifest = read_manifest(src)
    keys_path = keys_input or src / "keys.enc"
    if not keys_path.exists():
        raise BackupError(f"no key archive at {keys_path}; pass where it was kept (--keys)")
    if _sha256(keys_path) != manifest["keys_sha256"]:
        raise BackupError(f"{keys_path} is not the key archive of this backup (SHA-256 differs)")
    files = open_keys(keys_path.read_bytes(), passphrase)  # a wrong passphrase stops here, nothing touched
    check_keys_fit(files, keys_dir)
    load_store(url, src)
    manifest["restored_keys"] = write_keys(files, keys_dir)
    return manifest
