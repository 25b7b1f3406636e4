"""`cmaa partners`: partner administrations, their officials and signed directories."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from service.cli.common import BY, open_node, out, print_columns, refusing

partners = typer.Typer(help="Partner administrations and their designated officials.", no_args_is_help=True)


@partners.command("add")
def partners_add(
    administration: str,
    name: Annotated[str, typer.Option()],
    agreement: Annotated[list[str], typer.Option(help="Agreement id; repeat for several")],
    endpoint: Annotated[Optional[str], typer.Option(help="The partner node's base URL")] = None,
    language: Annotated[list[str], typer.Option(help="Extra bilaterally agreed language")] = [],
) -> None:
    """Register a partner administration."""
    node = open_node()
    refusing(lambda: node.directory.register_partner(by=BY, administration=administration, name=name,
                                                 agreements=agreement, endpoint=endpoint, languages=language))
    out.print(f"registered partner {administration}")


@partners.command("official")
def partners_official(administration: str, official_id: str, name: Annotated[str, typer.Option()]) -> None:
    """Record a designated official published by a partner."""
    node = open_node()
    refusing(lambda: node.directory.designate_partner_official(by=BY, administration=administration,
                                                           official_id=official_id, name=name))
    out.print(f"recorded {official_id} of {administration}")


@partners.command("import-directory")
def partners_import_directory(
    administration: str,
    directory_file: Path,
    fingerprint: Annotated[str, typer.Option(help="The partner's node-key fingerprint, received out of band")],
) -> None:
    """Import a partner's signed directory after checking its node key against the pinned fingerprint."""
    node = open_node()
    document = refusing(lambda: node.exchange.import_directory(directory_file.read_text(), fingerprint, BY,
                                                           expected_administration=administration))
    out.print(f"imported {administration}: {', '.join(sorted(document['officials']))}")


@partners.command("clear-alarm")
def partners_clear_alarm(administration: str, resolution: Annotated[str, typer.Option()]) -> None:
    """Clear a history alarm raised against a partner, after investigation."""
    node = open_node()
    refusing(lambda: node.exchange.witness.clear(administration, resolution, BY))
    out.print(f"cleared the history alarm for {administration}")


@partners.command("list")
def partners_list() -> None:
    """The partner administrations: agreements, endpoint, imported directory and any history alarm."""
    rows = []
    for code, partner in sorted(open_node().directory.directory().partners.items()):
        imported = partner.get("directory")
        rows.append((code, partner["name"], ", ".join(partner["agreements"]), partner.get("endpoint") or "-",
                     imported["issued_at"].isoformat(timespec="seconds") if imported else "no",
                     "RAISED" if partner.get("alarm") else "-"))
    print_columns(("partner", "name", "agreements", "endpoint", "directory imported", "alarm"), rows)
