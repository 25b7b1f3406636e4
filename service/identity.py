"""Which node lives where the settings point: found without creating anything.

Only ``cmaa init`` and ``cmaa serve`` create a node. Every other command opens an
existing one and refuses, before any side effect, where there is none or where the
store belongs to another administration (a second directory in one store would share
the node key).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import make_url

from adapters.keystore import NODE_SIGNING
from domain.directory import directory_id

DIRECTORY_CREATED = "domain.directory:Directory.DirectoryCreated"


class NodeIdentityError(Exception):
    """There is no node where the settings point, or it is not the one they name."""


def store_location(settings) -> str:
    """Where the store is, for people: an absolute file path, or the database without its password."""
    path = sqlite_path(settings.store_url)
    if path is not None:
        return str(path)
    return make_url(settings.store_url).render_as_string(hide_password=True)


def sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).resolve()


def node_here(settings) -> bool:
    """True when the node of ``settings.administration`` is at the store and key directory the
    settings name; False when nothing is there (``cmaa init`` may create it). Raises
    :class:`NodeIdentityError` when what is there is another node's or is incomplete."""
    data_dir = settings.data_dir.resolve()
    node_key = settings.keys_dir / f"{NODE_SIGNING}.pem"
    administrations = stored_administrations(settings)
    ours = settings.administration in administrations
    others = sorted(a for a in administrations if a != settings.administration)
    if others and not ours:
        raise NodeIdentityError(
            f"the store at {store_location(settings)} belongs to the node of {', '.join(others)}, not "
            f"{settings.administration}: set CMAA_ADMINISTRATION={others[0]}, or give this administration its own "
            "CMAA_DATA_DIR and CMAA_DATABASE_URL")
    if ours and not node_key.exists():
        raise NodeIdentityError(
            f"the store at {store_location(settings)} holds the node of {settings.administration}, but its node key "
            f"is missing from {settings.keys_dir.resolve()}: restore the keys (`cmaa restore`) rather than making "
            "a new identity")
    if not ours and node_key.exists() and administrations:
        raise NodeIdentityError(f"{data_dir} holds a node key but the store has no node for "
                                f"{settings.administration}")
    return ours


def stored_administrations(settings) -> set[str]:
    """The administrations whose directory is in the store; empty when there is no store yet.
    A missing SQLite file is not created; a PostgreSQL schema without tables is left so."""
    path = sqlite_path(settings.store_url)
    if path is not None and not path.exists():
        return set()
    from adapters.store import EventStore

    try:
        store = EventStore(settings.store_url, {"CREATE_TABLE": "n"})
    except Exception as error:  # noqa: BLE001 - a missing table is "no store yet"; anything else propagates
        if _no_table(error):
            return set()
        raise
    try:
        found = store.notifications(1, 1000, topics=(DIRECTORY_CREATED,))
    except Exception as error:  # noqa: BLE001
        if _no_table(error):
            return set()
        raise
    finally:
        store.close()
    administrations = set()
    for notification in found:
        for candidate in (settings.administration,):
            if notification.originator_id == directory_id(candidate):
                administrations.add(candidate)
                break
        else:
            administrations.add(_administration_of(notification))
    return administrations


def _administration_of(notification) -> str:
    import json

    try:
        return str(json.loads(notification.state)["administration"])
    except (ValueError, KeyError, TypeError):
        return "another administration"


def _no_table(error: Exception) -> bool:
    text = str(error).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text)
