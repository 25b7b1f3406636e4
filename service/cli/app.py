"""``cmaa``: run a node and administer it from the host it runs on.

Commands act on the store named by the ``CMAA_*`` environment, as the local
operator (recorded as ``cli``).
"""

from __future__ import annotations

import json
import ssl
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
keys = typer.Typer(help="Signing and encryption keys, and the node's signed directory.", no_args_is_help=True)
audit = typer.Typer(help="The audit log: seal, export bundles, verify them offline.", no_args_is_help=True)
courier = typer.Typer(help="Delivery of outgoing envelopes.", no_args_is_help=True)
app.add_typer(officials, name="officials")
app.add_typer(credentials, name="credentials")
app.add_typer(partners, name="partners")
app.add_typer(agreements, name="agreements")
app.add_typer(keys, name="keys")
app.add_typer(audit, name="audit")
app.add_typer(courier, name="courier")
dpo = typer.Typer(help="The data protection officer: access reports, erasure, restriction, retention sweep, "
                  "activity log (JP-NO Art. 9(2)).", no_args_is_help=True)
app.add_typer(dpo, name="dpo")

out = Console()
err = Console(stderr=True)
BY = "cli"


def _node():
    from service.node import build_node, initialise

    settings = Settings()
    node = build_node(settings)
    token = initialise(node)
    if token:
        _announce_first_operator(token)
    return node


def _announce_first_operator(token: str, settings: Settings | None = None) -> None:
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

    from service.http.app import create_app
    from service.node import build_node, initialise
    from service.ops.observability import configure_logging, uvicorn_log_config

    settings = Settings()
    configure_logging(settings.log_level)
    if host or port:
        settings = settings.model_copy(update={k: v for k, v in (("host", host), ("port", port)) if v})
    node = build_node(settings)
    token = initialise(node)
    if token:
        _announce_first_operator(token, settings)
    err.print(f"cmaa node {settings.administration} on {settings.endpoint} "
              f"(store: {settings.store_url.split('@')[-1]}; node key {node.exchange.node_fingerprint()})")
    tls = {}
    if settings.tls_cert:
        tls = {"ssl_certfile": str(settings.tls_cert), "ssl_keyfile": str(settings.tls_key)}
        if settings.tls_ca:  # mutual TLS: partners must present a certificate from this CA
            tls.update(ssl_ca_certs=str(settings.tls_ca), ssl_cert_reqs=ssl.CERT_REQUIRED)
    # JSON logs; uvicorn's access log (raw paths and query strings) is replaced by ours.
    # On SIGTERM uvicorn stops accepting, drains requests for the grace period, then the
    # app's shutdown lets the courier finish or hand back its deliveries.
    uvicorn.run(create_app(settings, node=node, courier_child=True), host=settings.host, port=settings.port,
                log_level=settings.log_level, log_config=uvicorn_log_config(), access_log=False,
                timeout_graceful_shutdown=int(settings.shutdown_grace_seconds), **tls)


@app.command()
def init() -> None:
    """Create the store, node keys and the first operator credential, then exit."""
    node = _node()
    out.print(f"node {node.settings.administration} ready at {node.settings.store_url.split('@')[-1]}")


@app.command()
def backup(
    dest: Annotated[Path, typer.Argument(help="A new, empty directory for the backup")],
    keys_output: Annotated[Optional[Path], typer.Option(help="Write the encrypted key archive here instead "
                                                        "(keep keys apart from the data)")] = None,
) -> None:
    """Consistent online backup: the store (SQLite online backup API, or pg_dump) and the keys,
    encrypted under CMAA_BACKUP_PASSPHRASE. The node may keep running."""
    from adapters.backup import BackupError
    from service.ops.backups import backup_node

    try:
        manifest = backup_node(Settings(), dest, keys_output)
    except BackupError as error:
        err.print(f"[red]backup failed:[/red] {error}", highlight=False)
        raise typer.Exit(1) from None
    out.print(f"backed up {manifest['store']} and the keys to {dest}; Merkle log {manifest['log_size']} leaves, "
              f"root {manifest['log_root']}")


@app.command()
def restore(
    src: Annotated[Path, typer.Argument(help="A directory written by `cmaa backup`")],
    keys: Annotated[Optional[Path], typer.Option(help="The encrypted key archive, if kept elsewhere")] = None,
    force: Annotated[bool, typer.Option(help="Replace a store that already holds events")] = False,
) -> None:
    """Restore a backup into the store and key directory of the CMAA_* environment (node stopped),
    then check the restored Merkle log against the backup's signed checkpoint."""
    from adapters.backup import BackupError
    from service.ops.backups import restore_node

    try:
        manifest = restore_node(Settings(), src, keys, force=force)
    except BackupError as error:
        err.print(f"[red]restore failed:[/red] {error}", highlight=False)
        raise typer.Exit(1) from None
    out.print(f"restored {manifest['store']} and {len(manifest['restored_keys'])} key file(s); the log reproduces "
              f"the backup's checkpoint ({manifest['log_size']} leaves, root {manifest['log_root']})")


@app.command("openapi")
def export_openapi(output: Annotated[Path, typer.Option(help="Where to write")] = Path("openapi/openapi.json")) -> None:
    """Write the API's OpenAPI document."""
    from service.http.openapi import openapi_document

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
    _run(lambda: node.designate_official(by=BY, official_id=official_id, name=name, email=email, roles=role))
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
def credentials_issue(
    official_id: str,
    expires_in_days: Annotated[Optional[int], typer.Option(min=1, max=3650, help="Expire after this many days "
                                                           "(default: valid until revoked)")] = None,
) -> None:
    """Issue a bearer credential for an official; it is printed once."""
    from datetime import timedelta

    node = _node()
    valid_for = timedelta(days=expires_in_days) if expires_in_days else None
    token = _run(lambda: node.directory.issue_credential(by=BY, official_id=official_id, valid_for=valid_for))
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


# -- keys and the signed directory ------------------------------------------------------
@keys.command("issue")
def keys_issue(official_id: str) -> None:
    """Issue signing (Ed25519) and encryption (X25519) keys for an official."""
    node = _node()
    out.print(", ".join(_run(lambda: node.exchange.issue_official_keys(official_id, BY))))


@keys.command("rotate")
def keys_rotate(official_id: str) -> None:
    """Retire an official's current keys (they still verify history) and issue new ones."""
    node = _node()
    out.print(", ".join(_run(lambda: node.exchange.rotate_official_keys(official_id, BY))))


@keys.command("list")
def keys_list() -> None:
    """This node's published keys with their validity."""
    directory = _node().directory.directory()
    table = Table("kid", "owner", "use", "valid from", "valid until")
    for kid, key in sorted(directory.keys.items()):
        table.add_row(kid, key["owner"], key["use"], key["valid_from"].isoformat(), key["valid_until"].isoformat())
    out.print(table)


@keys.command("fingerprint")
def keys_fingerprint() -> None:
    """The node key's RFC 7638 thumbprint: give it to partners out of band."""
    print(_node().exchange.node_fingerprint())


@keys.command("export-directory")
def keys_export_directory(output: Annotated[Optional[Path], typer.Option(help="File to write")] = None) -> None:
    """This node's signed directory (JWS), for partners to import."""
    token = _node().exchange.export_directory()
    if output:
        output.write_text(token + "\n")
        out.print(f"wrote {output}")
    else:
        print(token)


@partners.command("import-directory")
def partners_import_directory(
    administration: str,
    directory_file: Path,
    fingerprint: Annotated[str, typer.Option(help="The partner's node-key fingerprint, received out of band")],
) -> None:
    """Import a partner's signed directory after checking its node key against the pinned fingerprint."""
    node = _node()
    document = _run(lambda: node.exchange.import_directory(directory_file.read_text(), fingerprint, BY,
                                                           expected_administration=administration))
    out.print(f"imported {administration}: {', '.join(sorted(document['officials']))}")


@partners.command("clear-alarm")
def partners_clear_alarm(administration: str, resolution: Annotated[str, typer.Option()]) -> None:
    """Clear a history alarm raised against a partner, after investigation."""
    node = _node()
    _run(lambda: node.exchange.witness.clear(administration, resolution, BY))
    out.print(f"cleared the history alarm for {administration}")


@courier.command("run")
def courier_run(
    interval: Annotated[Optional[float], typer.Option(min=0.01, max=3600, help="Idle poll in seconds "
                                                      "(default CMAA_COURIER_INTERVAL_SECONDS)")] = None,
    child: Annotated[bool, typer.Option(hidden=True, help="Started by `cmaa serve` (CMAA_COURIER=process): woken "
                                        "by lines on stdin, stops at EOF, reports counters on stdout")] = False,
) -> None:
    """Deliver envelopes until SIGTERM, as its own process (with CMAA_COURIER=external for
    `cmaa serve`): several may run against one PostgreSQL store; each envelope goes out once at a time."""
    import signal
    import threading

    from service.exchange.courier import CourierThread, child_of_the_node
    from service.ops.observability import configure_logging

    settings = Settings()
    configure_logging(settings.log_level)
    node = _node()
    thread = CourierThread(node.courier, interval or settings.courier_interval_seconds or 0.5)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    # A child ignores Ctrl-C (it reaches the whole process group): the node stops it with SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_IGN if child else (lambda *_: stop.set()))
    thread.start()
    reporter = child_of_the_node(thread, node.metrics, stop) if child else None
    err.print(f"cmaa courier for {settings.administration} running (store: {settings.store_url.split('@')[-1]})")
    stop.wait()
    finished = thread.stop(settings.shutdown_grace_seconds)
    if reporter is not None:
        reporter.join(timeout=5)  # the last counts reach the node
    err.print("courier stopped" + ("" if finished else "; a delivery under way keeps its lease and is retried"))
    node.close()


@courier.command("run-once")
def courier_run_once() -> None:
    """Deliver every due envelope once, then exit."""
    node = _node()
    out.print(f"{node.courier.deliver_due()} envelope(s) reached a final state; "
              f"{len(node.store.exchange.pending())} pending")


@audit.command("seal")
def audit_seal() -> None:
    """Seal new events into the Merkle log and sign a checkpoint now."""
    node = _node()
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

    node = _node()
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


@app.command()
def demo(base_port: Annotated[int, typer.Option(help="First of two loopback ports; 0 picks free ones")] = 8710) -> None:
    """Two nodes (Norway, Japan) on loopback walk one case end to end."""
    from service.ops.demo import run_demo

    run_demo(base_port, out)


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



# -- data protection (JP-NO Art. 9(2)) -------------------------------------------------------
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
    node = _node()
    who = _dpo_principal(node, as_)
    _print_json(_run(lambda: node.dpo.access_report(who, _subject(name, born, id, subject_file), purpose)))


@dpo.command("erase")
def dpo_erase(as_: AsDpo, rule: Annotated[str, typer.Option(help="The rule the erasure rests on")],
              name: Name = "", born: Born = None, id: Ident = [],  # noqa: A002,B006
              subject_file: SubjectFile = None, purpose: Purpose = "erasure") -> None:
    """Erase a data subject's personal data on this node (keys destroyed; the audit chain stays)."""
    node = _node()
    who = _dpo_principal(node, as_)
    _print_json(_run(lambda: node.dpo.erase(who, _subject(name, born, id, subject_file), rule, purpose)))


@dpo.command("restrict")
def dpo_restrict(as_: AsDpo, reason: Annotated[str, typer.Option()], name: Name = "", born: Born = None,
                 id: Ident = [], subject_file: SubjectFile = None,  # noqa: A002,B006
                 purpose: Purpose = "restriction") -> None:
    """Restrict processing of a subject's data until lifted."""
    node = _node()
    who = _dpo_principal(node, as_)
    _print_json(_run(lambda: node.dpo.restrict(who, _subject(name, born, id, subject_file), reason, purpose)))


@dpo.command("lift")
def dpo_lift(subject_id: str, as_: AsDpo, purpose: Purpose = "restriction lifted") -> None:
    """Lift a restriction (by the subject id an access report gives)."""
    node = _node()
    who = _dpo_principal(node, as_)
    _run(lambda: node.dpo.lift(who, subject_id, purpose))
    out.print(f"restriction on {subject_id} lifted")


@dpo.command("sweep")
def dpo_sweep() -> None:
    """Erase what has outlived its retention now (the service also runs this on a schedule)."""
    node = _node()
    done = _run(node.dpo.sweep)
    out.print(f"retention sweep: {done['keys_erased']} key(s) destroyed in {len(done['cases'])} case(s)")
    for case in done["cases"]:
        out.print(f"  case {case['case_id']}: {case['keys']} key(s) under {case['rule']}", highlight=False)


@dpo.command("activity")
def dpo_activity(as_: AsDpo, subject_id: Annotated[Optional[str], typer.Option()] = None,
                 official: Annotated[Optional[str], typer.Option()] = None,
                 limit: Annotated[int, typer.Option(min=1, max=100_000)] = 1000) -> None:
    """Who read or changed personal data, when and why."""
    node = _node()
    who = _dpo_principal(node, as_)
    _print_json(_run(lambda: node.dpo.activity(who, subject_id=subject_id, official=official, limit=limit)))


if __name__ == "__main__":
    main()
