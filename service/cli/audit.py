"""`cmaa audit`: seal the audit log, export bundles, verify them offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from service.cli.common import acting, err, iso_time, open_node, out, refusing

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
    purpose: Annotated[str, typer.Option(help="Why (recorded as the auditor's read)")] = "audit bundle",
    token_file: Annotated[Optional[Path], typer.Option(help="A file holding the auditor's credential (or set "
                                                       "CMAA_TOKEN); without one, the host user acts as the "
                                                       "local operator")] = None,
) -> None:
    """Export an audit bundle (events as stored, leaves, proofs, signed checkpoints, node key);
    recorded as a read. Auditors can also fetch it from the node: GET /audit/bundle."""
    from uuid import UUID

    try:
        case_id = UUID(case) if case else None
    except ValueError:
        raise typer.BadParameter(f"{case!r} is not a case id (a UUID)", param_hint="--case") from None
    start, end = iso_time(since, "--since"), iso_time(until, "--until")
    if not output.parent.resolve().is_dir():
        raise typer.BadParameter(f"no directory {output.parent.resolve()} to write into", param_hint="--output")
    node = open_node()
    who = refusing(lambda: acting(node, "auditor", token_file))
    bundle = refusing(lambda: node.audit_bundle(who, case_id, start, end, purpose))
    output.write_text(json.dumps(bundle))
    out.print(f"wrote {output}: {len(bundle['events'])} event(s)")


@audit.command("verify")
def audit_verify(
    source: Annotated[str, typer.Argument(help="A bundle file, or a node's URL (https://node.example) to fetch "
                                               "it from as an auditor")],
    against: Annotated[list[Path], typer.Option(help="A signed checkpoint note held elsewhere (partner, "
                                                     "auditor); repeat for several")] = [],
    token_file: Annotated[Optional[Path], typer.Option(help="With a URL: a file holding the auditor's "
                                                       "credential (or set CMAA_TOKEN)")] = None,
    case: Annotated[Optional[str], typer.Option(help="With a URL: only this case")] = None,
    purpose: Annotated[str, typer.Option(help="With a URL: why (recorded as the auditor's read)")] = "audit",
    ca_file: Annotated[Optional[Path], typer.Option(help="With an https URL: the CA bundle the node's "
                                                    "certificate chains to")] = None,
) -> None:
    """Verify an audit bundle: offline from a file (no node, no database), or fetched from a node's
    URL with the auditor's credential. Exit 0 when it verifies."""
    from rich.progress import Progress

    from adapters.bundle import BUNDLE_TYPE, verify_bundle

    remote = source.startswith(("http://", "https://"))
    # The credential is read first: a file that is missing is the token file's error, not the bundle's.
    token = _token(token_file) if remote else ""
    try:
        if remote:
            bundle = fetch_bundle(source, token, case, purpose, ca_file)
        else:
            bundle = json.loads(Path(source).read_text())
    except (OSError, ValueError) as error:
        err.print(f"[red]cannot read the bundle:[/red] {error}", highlight=False)
        raise typer.Exit(2) from None
    if not isinstance(bundle, dict) or bundle.get("type") != BUNDLE_TYPE:
        # Not tampering: not a bundle at all (another JSON file, an empty object).
        err.print(f"[red]not an audit bundle:[/red] {source} holds no \"type\": \"{BUNDLE_TYPE}\"; give a file "
                  "written by `cmaa audit export` (or GET /audit/bundle)", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    # On a terminal only: a transient bar ends by printing an empty line when stderr is a file or a pipe.
    with Progress(console=err, transient=True, disable=not err.is_terminal) as progress:
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


def _token(token_file: Path | None) -> str:
    """The auditor's credential: --token-file (a missing file is reported as such), else CMAA_TOKEN."""
    import os

    return token_file.read_text().strip() if token_file else os.environ.get("CMAA_TOKEN", "").strip()


def fetch_bundle(base_url: str, token: str, case: str | None, purpose: str, ca_file: Path | None) -> dict:
    """GET <node>/audit/bundle as the auditor whose credential is given; the node records the read."""
    import httpx

    if not token:
        raise ValueError("fetching from a node needs the auditor's credential: --token-file or CMAA_TOKEN")
    params = {"purpose": purpose, **({"case_id": case} if case else {})}
    try:
        answer = httpx.get(base_url.rstrip("/") + "/audit/bundle", params=params, timeout=300,
                           headers={"Authorization": f"Bearer {token}"}, verify=str(ca_file) if ca_file else True)
    except httpx.HTTPError as error:
        raise ValueError(f"cannot reach {base_url}: {error}") from None
    if answer.status_code != 200:
        try:
            detail = answer.json().get("detail") or answer.json().get("title")
        except ValueError:
            detail = answer.text[:200]
        raise ValueError(f"{base_url} answered {answer.status_code}: {detail}")
    return answer.json()
