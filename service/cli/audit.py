"""`cmaa audit`: seal the audit log, export bundles, verify them offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from service.cli.common import err, open_node, out

audit = typer.Typer(help="The audit log: seal, export bundles, verify them offline.", no_args_is_help=True)


@audit.command("seal")
def audit_seal() -> None:
    """Seal new events into the Merkle log and sign a checkpoint now."""
    node = open_node()
    sealed = node.audit.seal_and_checkpoint()
    checkpoint = node.audit.checkpoint()
    out.print(f"sealed {sealed} event(s); checkpoint at {checkpoint.size} leaves, root {checkpoint.root.hex()}")


@audit.command("export")
def audit_export(
    output: Annotated[Path, typer.Option(help="Bundle file to write")],
    case: Annotated[Optional[str], typer.Option(help="Only this case (default: the whole log)")] = None,
    since: Annotated[Optional[str], typer.Option(help="Only events stored from this time (ISO 8601)")] = None,
    until: Annotated[Optional[str], typer.Option(help="... and before this time (ISO 8601)")] = None,
) -> None:
    """Export an audit bundle (events as stored, leaves, proofs, signed checkpoints, node key)."""
    from uuid import UUID

    from adapters.bundle import export_bundle
    from adapters.keystore import public_jwk

    node = open_node()
    node.audit.seal_and_checkpoint()
    node.audit.checkpoint()
    partners = node.directory.directory().partners
    witness_keys = {code: p["directory"]["node_key"] for code, p in partners.items() if p.get("directory")}
    from datetime import datetime

    def when(value: str | None):
        return datetime.fromisoformat(value) if value else None

    bundle = export_bundle(node.store, node.audit.log, public_jwk(node.exchange.keystore.node_signing_key()),
                           UUID(case) if case else None, witness_keys, when(since), when(until))
    output.write_text(json.dumps(bundle))
    out.print(f"wrote {output}: {len(bundle['events'])} event(s)")


@audit.command("verify")
def audit_verify(
    bundle_file: Path,
    against: Annotated[list[Path], typer.Option(help="A signed checkpoint note held elsewhere (partner, "
                                                     "auditor); repeat for several")] = [],
) -> None:
    """Verify an audit bundle offline: no node, no database. Exit 0 when it verifies."""
    from rich.progress import Progress

    from adapters.bundle import verify_bundle

    try:
        bundle = json.loads(bundle_file.read_text())
    except (OSError, ValueError) as error:
        err.print(f"[red]cannot read the bundle:[/red] {error}")
        raise typer.Exit(2) from None
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("re-hashing events", total=len(bundle.get("events", [])))
        verdict = verify_bundle(bundle, tuple(p.read_text() for p in against),
                                progress=lambda n: progress.advance(task, n))
    for problem in verdict.problems:
        colour = {"manipulation": "red", "gap": "yellow"}.get(problem.kind, "cyan")
        out.print(f"[{colour}]{problem.kind}[/{colour}] {problem.where}: {problem.detail}", highlight=False)
    if verdict.ok:
        witnessed = f"; witnessed by {', '.join(sorted(verdict.cosigned))}" if verdict.cosigned else ""
        out.print(f"[green]VERIFIED[/green]: {verdict.events} event(s) against a signed tree of "
                  f"{verdict.tree_size} leaves{witnessed}")
        return
    out.print(f"[red]NOT VERIFIED[/red]: {len(verdict.problems)} problem(s) in {verdict.events} event(s)")
    raise typer.Exit(1)
