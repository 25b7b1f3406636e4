"""``cmaa``: run a node and administer it from the host it runs on.

Commands act on the store named by the ``CMAA_*`` environment, as the local
operator (recorded as ``cli``).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from domain.errors import DomainError
from service.settings import Settings

# Pretty tracebacks would print local variables (tokens, passphrases): off.
app = typer.Typer(help="cmaa-exchange: the customs mutual-assistance node.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
officials = typer.Typer(help="This administration's designated officials.", no_args_is_help=True)
credentials = typer.Typer(help="API credentials of officials.", no_args_is_help=True)
partners = typer.Typer(help="Partner administrations and their designated officials.", no_args_is_help=True)
agreements = typer.Typer(help="Agreement profiles and their periods in force.", no_args_is_help=True)
app.add_typer(officials, name="officials")
app.add_typer(credentials, name="credentials")
app.add_typer(partners, name="partners")
app.add_typer(agreements, name="agreements")

out = Console()
err = Console(stderr=True)
BY = "cli"


def _node(load_keys: bool = False):
    from service.node import build_node, initialise

    settings = Settings()
    node = build_node(settings, load_keys=load_keys)
    token = initialise(node)
    if token:
        _announce_first_operator(token)
    return node


def _announce_first_operator(token: str) -> None:
    err.print("[bold]First run: created the operator credential. It is shown once; keep it safe:[/bold]")
    err.print(f"  {token}", highlight=False, soft_wrap=True)


def _run(action):
    try:
        return action()
    except DomainError as exc:
        err.print(f"[red]refused:[/red] {exc}", highlight=False)
        raise typer.Exit(1) from None


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Listen address (CMAA_HOST)")] = None,
    port: Annotated[Optional[int], typer.Option(help="Listen port (CMAA_PORT)")] = None,
) -> None:
    """Start the node (first run: create the store, node keys and an operator credential)."""
    import uvicorn

    from service.app import create_app
    from service.node import build_node, initialise

    settings = Settings()
    node = build_node(settings)
    token = initialise(node)
    if token:
        _announce_first_operator(token)
    err.print(f"cmaa node {settings.administration} on http://{host or settings.host}:{port or settings.port} "
              f"(store: {settings.store_url.split('@')[-1]})")
    uvicorn.run(create_app(settings, node=node), host=host or settings.host, port=port or settings.port,
                log_level=settings.log_level)


@app.command()
def init() -> None:
    """Create the store, node keys and the first operator credential, then exit."""
    node = _node(load_keys=True)
    out.print(f"node {node.settings.administration} ready at {node.settings.store_url.split('@')[-1]}")


@app.command("openapi")
def export_openapi(output: Annotated[Path, typer.Option(help="Where to write")] = Path("openapi/openapi.json")) -> None:
    """Write the API's OpenAPI document."""
    from service.openapi import openapi_document

    output.write_text(openapi_document())
    out.print(f"wrote {output}")


# -- officials ---------------------------------------------------------------------
@officials.command("add")
def officials_add(
    official_id: str,
    name: Annotated[str, typer.Option(help="Full name")],
    role: Annotated[list[str], typer.Option(help="official, auditor, dpo or operator; repeat for several")],
    email: Annotated[str, typer.Option()] = "",
) -> None:
    """Designate an official of this administration."""
    node = _node()
    _run(lambda: node.directory.designate_official(by=BY, official_id=official_id, name=name, email=email,
                                                   roles=role))
    out.print(f"designated {official_id} ({', '.join(role)})")


@officials.command("revoke")
def officials_revoke(official_id: str, reason: Annotated[str, typer.Option()]) -> None:
    """Revoke a designation; the official's credentials stop working."""
    node = _node()
    _run(lambda: node.directory.revoke_official(by=BY, official_id=official_id, reason=reason))
    out.print(f"revoked {official_id}")


@officials.command("list")
def officials_list() -> None:
    """List this administration's officials."""
    directory = _node().directory.directory()
    table = Table("official", "name", "roles", "active")
    for official_id, record in sorted(directory.officials.items()):
        table.add_row(official_id, record["name"], ", ".join(record["roles"]), "yes" if record["active"] else "no")
    out.print(table)


# -- credentials -----------------------------------------------------------------
@credentials.command("issue")
def credentials_issue(official_id: str) -> None:
    """Issue a bearer credential for an official; it is printed once."""
    node = _node()
    token = _run(lambda: node.directory.issue_credential(by=BY, official_id=official_id))
    print(token)


@credentials.command("revoke")
def credentials_revoke(token_id: str, reason: Annotated[str, typer.Option()]) -> None:
    """Revoke a credential by its id (the middle part of the token)."""
    node = _node()
    _run(lambda: node.directory.revoke_credential(by=BY, token_id=token_id, reason=reason))
    out.print(f"revoked credential {token_id}")


# -- partners ----------------------------------------------------------------------
@partners.command("add")
def partners_add(
    administration: str,
    name: Annotated[str, typer.Option()],
    agreement: Annotated[list[str], typer.Option(help="Agreement id; repeat for several")],
    endpoint: Annotated[Optional[str], typer.Option(help="The partner node's base URL")] = None,
    language: Annotated[list[str], typer.Option(help="Extra bilaterally agreed language")] = [],
) -> None:
    """Register a partner administration."""
    node = _node()
    _run(lambda: node.directory.register_partner(by=BY, administration=administration, name=name,
                                                 agreements=agreement, endpoint=endpoint, languages=language))
    out.print(f"registered partner {administration}")


@partners.command("official")
def partners_official(administration: str, official_id: str, name: Annotated[str, typer.Option()]) -> None:
    """Record a designated official published by a partner."""
    node = _node()
    _run(lambda: node.directory.designate_partner_official(by=BY, administration=administration,
                                                           official_id=official_id, name=name))
    out.print(f"recorded {official_id} of {administration}")


# -- agreements ---------------------------------------------------------------------
@agreements.command("list")
def agreements_list() -> None:
    """List the agreement profiles and their periods."""
    node = _node()
    directory = node.directory.directory()
    table = Table("id", "agreement", "in force from", "terminated from", "parties")
    for profile in node.agreements:
        period = directory.period(profile)
        table.add_row(profile.id, profile.short, period.in_force_from.isoformat(),
                      period.terminated_from.isoformat() if period.terminated_from else "-",
                      ", ".join(sorted(profile.parties)))
    out.print(table)


@agreements.command("period")
def agreements_period(
    agreement_id: str,
    in_force_from: Annotated[Optional[str], typer.Option(help="YYYY-MM-DD notified entry into force")] = None,
    termination_notified_on: Annotated[Optional[str], typer.Option(help="YYYY-MM-DD of the notice")] = None,
) -> None:
    """Record the entry into force or a termination notice of an agreement."""
    node = _node()

    def parse(value: str | None) -> date | None:
        return date.fromisoformat(value) if value else None

    directory = _run(lambda: node.directory.record_agreement_period(
        by=BY, agreement=agreement_id, in_force_from=parse(in_force_from),
        termination_notified_on=parse(termination_notified_on)))
    out.print(json.dumps(directory.periods[agreement_id]))


def main() -> None:
    from pydantic import ValidationError

    from adapters.store import StoreConfigError

    try:
        app()
    except ValidationError as exc:
        for error in exc.errors():
            setting = "CMAA_" + "_".join(str(p) for p in error["loc"]).upper() if error["loc"] else "settings"
            err.print(f"[red]configuration error:[/red] {setting}: {error['msg']}", highlight=False)
        raise SystemExit(2) from None
    except StoreConfigError as exc:
        err.print(f"[red]configuration error:[/red] {exc}", highlight=False)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
