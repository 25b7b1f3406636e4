"""`cmaa officials`: this administration's designated officials."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from service.cli.common import BY, open_node, out, refusing

officials = typer.Typer(help="This administration's designated officials.", no_args_is_help=True)


@officials.command("add")
def officials_add(
    official_id: str,
    name: Annotated[str, typer.Option(help="Full name")],
    role: Annotated[list[str], typer.Option(help="official, auditor, dpo or operator; repeat for several")],
    email: Annotated[str, typer.Option()] = "",
) -> None:
    """Designate an official of this administration."""
    node = open_node()
    refusing(lambda: node.designate_official(by=BY, official_id=official_id, name=name, email=email, roles=role))
    out.print(f"designated {official_id} ({', '.join(role)})")


@officials.command("revoke")
def officials_revoke(official_id: str, reason: Annotated[str, typer.Option()]) -> None:
    """Revoke a designation; the official's credentials stop working."""
    node = open_node()
    refusing(lambda: node.directory.revoke_official(by=BY, official_id=official_id, reason=reason))
    out.print(f"revoked {official_id}")


@officials.command("list")
def officials_list() -> None:
    """List this administration's officials."""
    directory = open_node().directory.directory()
    table = Table("official", "name", "roles", "active")
    for official_id, record in sorted(directory.officials.items()):
        table.add_row(official_id, record["name"], ", ".join(record["roles"]), "yes" if record["active"] else "no")
    out.print(table)
