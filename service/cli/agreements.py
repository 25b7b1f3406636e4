"""`cmaa agreements`: agreement profiles and their periods in force."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer
from rich.table import Table

from service.cli.common import BY, iso_date, open_node, out, refusing

agreements = typer.Typer(help="Agreement profiles and their periods in force.", no_args_is_help=True)


@agreements.command("list")
def agreements_list() -> None:
    """List the agreement profiles and their periods."""
    node = open_node()
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
    if in_force_from is None and termination_notified_on is None:
        raise typer.BadParameter("nothing to record: give --in-force-from or --termination-notified-on (or both)")
    starts = iso_date(in_force_from, "--in-force-from")
    notified = iso_date(termination_notified_on, "--termination-notified-on")
    node = open_node()
    directory = refusing(lambda: node.directory.record_agreement_period(
        by=BY, agreement=agreement_id, in_force_from=starts, termination_notified_on=notified))
    out.print(json.dumps(directory.periods[agreement_id]))


@agreements.command("set-parameter")
def agreements_set_parameter(
    agreement_id: str,
    parameter: Annotated[str, typer.Argument(help="e.g. recovery.minimum (the profile's deployment_parameters)")],
    value: Annotated[str, typer.Argument(help='JSON, e.g. \'{"NOK": "2000", "SEK": "2000"}\'')],
) -> None:
    """Set a deployment parameter an agreement leaves to the parties (e.g. Nordic Art. 10(2)'s minimum claim).

    Recorded in the directory with who and when; the rules apply it from the next request on."""
    try:
        parsed = json.loads(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not JSON; e.g. '{{\"NOK\": \"2000\"}}'", param_hint="VALUE") from None
    node = open_node()
    directory = refusing(lambda: node.directory.set_agreement_parameter(
        by=BY, agreement=agreement_id, parameter=parameter, value=parsed))
    profile = node.agreements.get(agreement_id)
    recorded = directory.parameters_of(profile)[parameter]
    out.print(f"{agreement_id} {parameter} set to {json.dumps(recorded['value'])} ({recorded['article']}); recorded "
              f"by {recorded['by']} at {recorded['at']}", highlight=False, soft_wrap=True)
