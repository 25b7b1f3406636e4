"""What the operator reads when a command fails: one or two lines, what is wrong and what to do."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.markup import escape

DEBUG_HINT = "(cmaa --debug ... shows the traceback)"


def explain(error: BaseException, err: Console) -> int:
    """Print ``error`` for a person and return the exit code: 2 for configuration, 1 otherwise."""
    code, message = _describe(error)
    for line in message.splitlines():
        label, _, text = line.partition("|")
        err.print(f"[red]{label}:[/red] {escape(text)}", highlight=False, soft_wrap=True)
    if code == 1 and not _expected(error):
        err.print(DEBUG_HINT, highlight=False)
    return code


def _describe(error: BaseException) -> tuple[int, str]:
    """The exit code and lines of ``label|text``."""
    from pydantic import ValidationError

    from adapters.keystore import KeyPassphraseError
    from adapters.store import StoreConfigError
    from service.cli.common import NoNode
    from service.settings import SettingsFileError

    if isinstance(error, ValidationError):
        return 2, "\n".join(f"configuration error|{_setting_problem(item)}" for item in error.errors())
    if isinstance(error, (StoreConfigError, SettingsFileError)):
        return 2, f"configuration error|{error}"
    if isinstance(error, (NoNode, KeyPassphraseError)):
        return 1, f"error|{error}"
    if _unreachable_store(error):
        # Exit 3: a supervisor (systemd, Kubernetes) restarts the node; what to check is said.
        reason = " ".join(str(error).split())[:300] or type(error).__name__
        return 3, (f"store unavailable|{_store_name()}: {reason} (check CMAA_DATABASE_URL and that the database "
                   "server is running)")
    damaged = _damaged_store(error)
    if damaged:
        return 1, (f"store damaged|{_store_name()} cannot be read ({damaged}): restore the node from a backup "
                   "(`cmaa restore`), or set CMAA_DATABASE_URL to the node's store")
    if isinstance(error, OSError):
        where = f": {error.filename}" if error.filename else ""
        return 1, f"error|{error.strerror or _first_line(error)}{where}"
    return 1, f"error|{type(error).__name__}: {_first_line(error)}"


def _setting_problem(item: dict) -> str:
    """One pydantic error as the operator reads it: the setting and the message, without pydantic's
    "Value error, " prefix; a message that names its setting(s) itself is shown alone."""
    message = item["msg"].removeprefix("Value error, ")
    if not item["loc"]:
        return message
    setting = "CMAA_" + "_".join(str(p) for p in item["loc"]).upper()
    return message if message.startswith(setting) else f"{setting}: {message}"


def _damaged_store(error: BaseException) -> str | None:
    """The SQLite file's complaint when the store is not a database (damaged, or another file), else None."""
    import sqlite3

    seen = error
    while seen is not None:
        if isinstance(seen, sqlite3.DatabaseError) and any(
                s in str(seen) for s in ("file is not a database", "database disk image is malformed")):
            return str(seen)
        seen = getattr(seen, "orig", None) or seen.__cause__ or seen.__context__
    return None


def _expected(error: BaseException) -> bool:
    from adapters.keystore import KeyPassphraseError
    from service.cli.common import NoNode

    return (isinstance(error, (NoNode, KeyPassphraseError, OSError)) or _unreachable_store(error)
            or _damaged_store(error) is not None)


def _unreachable_store(error: BaseException) -> bool:
    from adapters.store_faults import store_unavailable

    return store_unavailable(error)


def _store_name() -> str:
    try:
        from service.identity import store_location
        from service.settings import Settings

        return store_location(Settings())
    except Exception:  # noqa: BLE001 - the settings themselves may be what fails
        return "CMAA_DATABASE_URL"


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


class OperatorLogFormatter(logging.Formatter):
    """A log line of a one-shot command as a person reads it: ``warning: <message> (partner JP, reason: ...)``
    — the fields that explain it, which the bare message (Python's last-resort handler) left out; an
    exception's class, and its traceback only with ``cmaa --debug``."""

    def format(self, record: logging.LogRecord) -> str:
        from service.cli import common
        from service.ops.observability import _STANDARD

        fields = [(key, value) for key, value in vars(record).items() if key not in _STANDARD]
        text = f"{record.levelname.lower()}: {record.getMessage()}"
        if record.exc_info and record.exc_info[0] is not None:
            fields.append(("error", record.exc_info[0].__name__))
        if fields:
            text += " (" + ", ".join(f"{key}: {value}" for key, value in fields) + ")"
        if common.DEBUG and record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


def operator_logging() -> None:
    """Warnings and errors the node logs while a command runs, on stderr with their reasons. `cmaa serve` and
    `cmaa courier run` replace this with JSON lines (service.ops.observability.configure_logging)."""
    handler = logging.StreamHandler()
    handler.setFormatter(OperatorLogFormatter())
    logger = logging.getLogger("cmaa")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.WARNING)
    logger.propagate = False
