"""What every command shares: the consoles, opening the node, turning refusals into messages."""

from __future__ import annotations

import typer
from rich.console import Console

from domain.errors import DomainError
from service.settings import Settings

out = Console()
err = Console(stderr=True)
BY = "cli"


def open_node():
    from service.node import build_node, initialise

    settings = Settings()
    node = build_node(settings)
    token = initialise(node)
    if token:
        announce_first_operator(token)
    return node


def announce_first_operator(token: str, settings: Settings | None = None) -> None:
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
        err.print(f"[red]refused:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None
