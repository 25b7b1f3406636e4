"""`cmaa partners`: partner administrations, their officials and signed directories."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from service.cli.common import BY, err, open_node, out, print_columns, refusing

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


@partners.command("refresh-directory")
def partners_refresh_directory(administration: str) -> None:
    """Fetch a partner's signed directory from its endpoint now; held if it verifies against the pinned
    fingerprint and is newer than the one held. Exits 1 when it was not fetched or was refused."""
    node = open_node()
    refusing(lambda: node.directory.directory().partner(administration))
    row = node.refresher.refresh(administration, "operator")
    line = f"{administration}: {row['outcome']} — {row['detail']}"
    from service.exchange.refresh import OK

    if row["outcome"] not in OK:
        err.print(f"[red]not refreshed:[/red] {line}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    out.print(line)


@partners.command("list")
def partners_list() -> None:
    """The partner administrations: agreements, endpoint, the directory held and its last refresh from the
    partner's endpoint (a refusal stays shown), our officials the partner does not know yet, any history alarm."""
    rows = []
    node = open_node()
    status = {p["partner"]: p for p in node.refresher.status()}
    for code, partner in sorted(node.directory.directory().partners.items()):
        imported = partner.get("directory")
        rows.append((code, partner["name"], ", ".join(partner["agreements"]), partner.get("endpoint") or "-",
                     imported["issued_at"].isoformat(timespec="seconds") if imported else "no",
                     _refresh(status[code]["last_refresh"]), ", ".join(status[code]["unknown_officials"]) or "-",
                     "RAISED" if partner.get("alarm") else "-"))
    print_columns(("partner", "name", "agreements", "endpoint", "directory held", "last refresh", "not known to it",
                   "alarm"), rows)


def _refresh(last: dict | None) -> str:
    if last is None:
        return "never"
    shown = f"{last['outcome']} {last['attempted_at'][:19]} ({last['trigger']})"
    if last["outcome"] != "refused" and last.get("refused_at"):
        shown += f"; REFUSED {last['refused_at'][:19]}: {last['refused_detail']}"
    elif last["outcome"] != "imported":
        shown += f": {last['detail']}"
    return shown
