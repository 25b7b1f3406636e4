"""`cmaa dpo`: the data protection officer's commands (JP-NO Art. 9(2))."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from service.cli.common import acting, iso_date, open_node, out, refusing

dpo = typer.Typer(help="The data protection officer: access reports, erasure, restriction, retention sweep, "
                  "activity log (JP-NO Art. 9(2)).", no_args_is_help=True)


TokenFile = Annotated[Optional[Path], typer.Option(help="A file holding the DPO's credential (or set CMAA_TOKEN); "
                                                   "without one, the host user acts as the local operator")]
Name = Annotated[str, typer.Option(help="The data subject's name (with --born for a natural person)")]
Born = Annotated[Optional[str], typer.Option(help="Date of birth, YYYY-MM-DD")]
Ident = Annotated[list[str], typer.Option("--id", help="An identifier as scheme:value (passport:NO1234567, "
                                          "company_registration:NO-987654321); repeat for several")]
SubjectFile = Annotated[Optional[Path], typer.Option(help="A JSON file {name, date_of_birth, identifiers: "
                                                     "[{scheme, value}]}: keeps identifiers out of shell history")]
Purpose = Annotated[str, typer.Option(help="Why (recorded in the activity log)")]


def _subject(name: str, born: str | None, ids: list[str], subject_file: Path | None) -> dict:
    """The data subject named on the command line, checked before the node is opened."""
    import json

    if subject_file is not None:
        try:
            subject = json.loads(subject_file.read_text())
        except ValueError as error:
            raise typer.BadParameter(f"{subject_file} is not JSON: {error}", param_hint="--subject-file") from None
        if not isinstance(subject, dict):
            raise typer.BadParameter(f"{subject_file} holds no JSON object", param_hint="--subject-file")
        return subject
    identifiers = []
    for ident in ids:
        scheme, sep, value = ident.partition(":")
        if not sep or not scheme or not value:
            raise typer.BadParameter(f"{ident!r}: write scheme:value", param_hint="--id")
        identifiers.append({"scheme": scheme, "value": value})
    if not (name or identifiers):
        raise typer.BadParameter("name the subject: --name (and --born) or --id or --subject-file",
                                 param_hint="--name")
    born_on = iso_date(born, "--born")
    return {"name": name, "date_of_birth": born_on.isoformat() if born_on else None, "identifiers": identifiers}


def _print_json(data) -> None:
    import json

    print(json.dumps(data, indent=2, default=str, ensure_ascii=False))


@dpo.command("report")
def dpo_report(name: Name = "", born: Born = None, id: Ident = [],  # noqa: A002,B006
               subject_file: SubjectFile = None, purpose: Purpose = "subject access request",
               token_file: TokenFile = None) -> None:
    """Everything this node holds on a data subject, as JSON (the right of access)."""
    subject = _subject(name, born, id, subject_file)
    node = open_node()
    who = refusing(lambda: acting(node, "dpo", token_file))
    _print_json(refusing(lambda: node.dpo.access_report(who, subject, purpose)))


@dpo.command("erase")
def dpo_erase(rule: Annotated[str, typer.Option(help="The rule the erasure rests on")],
              name: Name = "", born: Born = None, id: Ident = [],  # noqa: A002,B006
              subject_file: SubjectFile = None, purpose: Purpose = "erasure",
              token_file: TokenFile = None) -> None:
    """Erase a data subject's personal data on this node (keys destroyed; the audit chain stays)."""
    subject = _subject(name, born, id, subject_file)
    node = open_node()
    who = refusing(lambda: acting(node, "dpo", token_file))
    _print_json(refusing(lambda: node.dpo.erase(who, subject, rule, purpose)))


@dpo.command("restrict")
def dpo_restrict(reason: Annotated[str, typer.Option()], name: Name = "", born: Born = None,
                 id: Ident = [], subject_file: SubjectFile = None,  # noqa: A002,B006
                 purpose: Purpose = "restriction", token_file: TokenFile = None) -> None:
    """Restrict processing of a subject's data until lifted."""
    subject = _subject(name, born, id, subject_file)
    node = open_node()
    who = refusing(lambda: acting(node, "dpo", token_file))
    _print_json(refusing(lambda: node.dpo.restrict(who, subject, reason, purpose)))


@dpo.command("lift")
def dpo_lift(subject_id: str, purpose: Purpose = "restriction lifted", token_file: TokenFile = None) -> None:
    """Lift a restriction (by the subject id an access report gives)."""
    node = open_node()
    who = refusing(lambda: acting(node, "dpo", token_file))
    refusing(lambda: node.dpo.lift(who, subject_id, purpose))
    out.print(f"restriction on {subject_id} lifted")


@dpo.command("sweep")
def dpo_sweep() -> None:
    """Erase what has outlived its retention now (the service also runs this on a schedule)."""
    node = open_node()
    done = refusing(node.dpo.sweep)
    out.print(f"retention sweep: {done['keys_erased']} key(s) destroyed in {len(done['cases'])} case(s)")
    for case in done["cases"]:
        out.print(f"  case {case['case_id']}: {case['keys']} key(s) under {case['rule']}", highlight=False)


@dpo.command("activity")
def dpo_activity(subject_id: Annotated[Optional[str], typer.Option()] = None,
                 official: Annotated[Optional[str], typer.Option()] = None,
                 limit: Annotated[int, typer.Option(min=1, max=100_000)] = 1000,
                 token_file: TokenFile = None) -> None:
    """Who read or changed personal data, when and why."""
    node = open_node()
    who = refusing(lambda: acting(node, "dpo", token_file))
    _print_json(refusing(lambda: node.dpo.activity(who, subject_id=subject_id, official=official, limit=limit)))
