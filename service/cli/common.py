"""What every command shares: the consoles, opening the node, turning refusals into messages."""

from __future__ import annotations

import getpass

import typer
from rich.console import Console

from domain.errors import DomainError
from service.settings import Settings

out = Console(soft_wrap=True)  # paths and ids are never broken across lines
DEBUG = False  # set by `cmaa --debug`: errors show their traceback
err = Console(stderr=True, soft_wrap=True)


def print_columns(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """Plain aligned columns, never cut to the terminal's width: ids and URLs stay whole for copying."""
    rows = [header, *rows]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())



def _host_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (a container's arbitrary user)
        import os

        return f"uid{os.getuid()}"


# Who the audit trail records for a command run on the node's host: the operator acting locally, as the host user.
BY = f"cli:{_host_user()}"


class NoNode(Exception):
    """A command other than init/serve found no node (or another administration's) where the settings point."""


def existing_settings() -> Settings:
    """The settings, once a node of their administration is known to be where they point;
    checked before anything is opened or created (only `cmaa init` and `cmaa serve` create a node)."""
    from service.identity import NodeIdentityError, node_here

    settings = Settings()
    try:
        present = node_here(settings)
    except NodeIdentityError as error:
        raise NoNode(str(error)) from None
    if not present:
        raise NoNode(f"no node at {settings.data_dir.resolve()} (store {store_location(settings)}); "
                     "run `cmaa init` (or set CMAA_DATA_DIR / CMAA_DATABASE_URL to where the node lives)")
    return settings


def open_node():
    """The existing node the settings name; refuses where there is none (see :func:`existing_settings`)."""
    from service.node import build_node

    return build_node(existing_settings())


def create_or_open(settings: Settings, *, service: bool = False):
    """For `cmaa init` and `cmaa serve` (``service``): the node the settings name, created first if nothing
    is there. Returns the node and whether it was created now."""
    from service.identity import NodeIdentityError, node_here
    from service.node import build_node, initialise

    try:
        present = node_here(settings)
    except NodeIdentityError as error:
        raise NoNode(str(error)) from None
    if not present:
        err.print(f"no node at {settings.data_dir.resolve()}: creating the node of {settings.administration} "
                  f"(store {store_location(settings)}, keys {settings.keys_dir.resolve()})", highlight=False)
    node = build_node(settings)
    token = initialise(node)
    if token:
        announce_first_operator(token, settings if service else None)
    return node, not present


def store_location(settings: Settings) -> str:
    from service.identity import store_location as location

    return location(settings)


def announce_first_operator(token: str, settings: Settings | None) -> None:
    """Show the first operator credential once: on a terminal, printed; with stderr going to a
    log collector (a container, a service manager), written to a 0600 file instead, so the
    credential never enters the log stream."""
    import os
    import sys

    if sys.stderr.isatty() or settings is None:
        err.print("[bold]First run: created the operator credential. It is shown once; keep it safe:[/bold]")
        err.print(f"  {token}", highlight=False, soft_wrap=True)
        return
    path = settings.data_dir / "first-operator.token"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    err.print(f"First run: the operator credential is in {path} (mode 0600); read it, store it safely, delete the file.")


def refusing(action):
    try:
        return action()
    except DomainError as exc:
        err.print(f"[red]refused:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def iso_date(value: str | None, option: str):
    """A YYYY-MM-DD option, checked before the command does anything."""
    from datetime import date

    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date; write YYYY-MM-DD", param_hint=option) from None


def iso_time(value: str | None, option: str):
    """An ISO 8601 date-time option (a date alone means its midnight, UTC when no offset is given)."""
    from datetime import datetime, timezone

    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time such as 2027-01-15T09:00:00+00:00",
                                 param_hint=option) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def acting(node, role: str, token_file=None):
    """Who a command acts as in ``role``: the official whose credential is given (``--token-file`` or
    CMAA_TOKEN), who must hold the role; without one, the operator acting locally as the host user
    (recorded as ``cli:<user>``) — never a role name taken on trust."""
    import os

    from domain.errors import NotPermitted
    from service.principal import Principal

    token = token_file.read_text().strip() if token_file is not None else os.environ.get("CMAA_TOKEN", "").strip()
    if not token:
        return Principal(BY, node.settings.administration, (role,))
    try:
        who = node.directory.authenticate(token)
    except Exception:  # noqa: BLE001 - the API answers 401 without saying which part failed; so does the CLI
        raise NotPermitted("the credential (CMAA_TOKEN or --token-file) is not valid on this node") from None
    if role not in who.roles:
        raise NotPermitted(f"{who.official_id} does not hold the {role} role")
    return who
