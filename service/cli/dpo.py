"""`cmaa dpo`: the data protection officer's commands (JP-NO Art. 9(2))."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from service.cli.common import err, open_node, out, refusing

dpo = typer.Typer(help="The data protection officer: access reports, erasure, restriction, retention sweep, "
                  "activity log (JP-NO Art. 9(2)).", no_args_is_help=True)


AsDpo = Annotated[str, typer.Option("--as", help="The designated official with the dpo role who acts")]
Name = Annotated[str, typer.Option(help="The data subject's name (with --born for a natural person)")]
Born = Annotated[Optional[str], typer.Option(help="Date of birth, YYYY-MM-DD")]
Ident = Annotated[list[str], typer.Option("--id", help="An identifier as scheme:value (passport:NO1234567, "
                                          "company_registration:NO-987654321); repeat for several")]
SubjectFile = Annotated[Optional[Path], typer.Option(help="A JSON file {name, date_of_birth, identifiers: "
                                                     "[{scheme, value}]}: keeps identifiers out of shell history")]
Purpose = Annotated[str, typer.Option(help="Why (recorded in the activity log)")]


def _dpo_principal(node, official_id: str):
    from service.principal import Principal

    record = node.directory.directory().officials.get(official_id)
    if not record or not record["active"] or "dpo" not in record["roles"]:
        err.print(f"[red]refused:[/red] {official_id} is not an active official with the dpo role "
                  f"(cmaa officials add {official_id} --name ... --role dpo)", highlight=False)
        raise typer.Exit(1)
    return Principal(official_id, node.settings.administration, tuple(record["roles"]))


def _subject(name: str, born: str | None, ids: list[str], subject_file: Path | None) -> dict:
    import json

    if subject_file is not None:
        return json.loads(subject_file.read_text())
    identifiers = []
    for ident in ids:
        scheme, sep, value = ident.partition(":")
        if not sep or not scheme or not value:
            err.print(f"[red]refused:[/red] --id {ident!r}: write scheme:value", highlight=False)
            raise typer.Exit(2)
        identifiers.append({"scheme": scheme, "value": value})
    if not (name or identifiers):
        err.print("[red]refused:[/red] name the subject: --name (and --born) or --id or --subject-file")
        raise typer.Exit(2)
    return {"name": name, "date_of_birth": born, "identifiers": identifiers}


def _print_json(data) -> None:
    import json

    print(json.dumps(data, indent=2, default=str, ensure_ascii=False))


@dpo.command("report")
def dpo_report(as_: AsDpo, name: Name = "", born: Born = None, id: Ident = [],  # noqa: A002,B006
               subject_file: SubjectFile = None, purpose: Purpose = "subject access request") -> None:
    """Everything this node holds on a data subject, as JSON (the right of access)."""
    node = open_node()
    who = _dpo_principal(node, as_)
    _print_json(refusing(lambda: node.dpo.access_report(who, _subject(name, born, id, subject_file), purpose)))


@dpo.command("erase")
def dpo_erase(as_: AsDpo, rule: Annotated[str, typer.Option(help="The rule the erasure rests on")],
              name: Name = "", born: Born = None, id: Ident = [],  # noqa: A002,B006
              subject_file: SubjectFile = None, purpose: Purpose = "erasure") -> None:
    """Erase a data subject's personal data on this node (keys destroyed; the audit chain stays)."""
    node = open_node()
    who = _dpo_principal(node, as_)
    _print_json(refusing(lambda: node.dpo.erase(who, _subject(name, born, id, subject_file), rule, purpose)))


@dpo.command("restrict")
def dpo_restrict(as_: AsDpo, reason: Annotated[str, typer.Option()], name: Name = "", born: Born = None,
                 id: Ident = [], subject_file: SubjectFile = None,  # noqa: A002,B006
                 purpose: Purpose = "restriction") -> None:
    """Restrict processing of a subject's data until lifted."""
    node = open_node()
    who = _dpo_principal(node, as_)
    _print_json(refusing(lambda: node.dpo.restrict(who, _subject(name, born, id, subject_file), reason, purpose)))


@dpo.command("lift")
def dpo_lift(subject_id: str, as_: AsDpo, purpose: Purpose = "restriction lifted") -> None:
    """Lift a restriction (by the subject id an access report gives)."""
    node = open_node()
    who = _dpo_principal(node, as_)
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
def dpo_activity(as_: AsDpo, subject_id: Annotated[Optional[str], typer.Option()] = None,
                 official: Annotated[Optional[str], typer.Option()] = None,
                 limit: Annotated[int, typer.Option(min=1, max=100_000)] = 1000) -> None:
    """Who read or changed personal data, when and why."""
    node = open_node()
    who = _dpo_principal(node, as_)
    _print_json(refusing(lambda: node.dpo.activity(who, subject_id=subject_id, official=official, limit=limit)))
