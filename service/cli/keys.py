"""`cmaa keys`: signing and encryption keys, and the node's signed directory."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from service.cli.common import BY, open_node, out, print_columns, refusing

keys = typer.Typer(help="Signing and encryption keys, and the node's signed directory.", no_args_is_help=True)


@keys.command("issue")
def keys_issue(official_id: str) -> None:
    """Issue signing (Ed25519) and encryption (X25519) keys for an official."""
    node = open_node()
    out.print(", ".join(refusing(lambda: node.exchange.issue_official_keys(official_id, BY))))


@keys.command("rotate")
def keys_rotate(official_id: str) -> None:
    """Retire an official's current keys (they still verify history) and issue new ones."""
    node = open_node()
    out.print(", ".join(refusing(lambda: node.exchange.rotate_official_keys(official_id, BY))))


@keys.command("list")
def keys_list() -> None:
    """This node's officials' keys with their validity, and whether the signed directory publishes them
    (not once the official is revoked)."""
    directory = open_node().directory.directory()
    print_columns(("kid", "owner", "use", "valid from", "valid until", "published"),
                  [(kid, key["owner"], key["use"], key["valid_from"].isoformat(), key["valid_until"].isoformat(),
                    "yes" if directory.publishes_keys_of(key["owner"]) else "no")
                   for kid, key in sorted(directory.keys.items())])


@keys.command("fingerprint")
def keys_fingerprint() -> None:
    """The node key's RFC 7638 thumbprint: give it to partners out of band."""
    print(open_node().exchange.node_fingerprint())


@keys.command("export-directory")
def keys_export_directory(output: Annotated[Optional[Path], typer.Option(help="File to write")] = None) -> None:
    """This node's signed directory (JWS), for partners to import."""
    token = open_node().exchange.export_directory()
    if output:
        output.write_text(token + "\n")
        out.print(f"wrote {output}")
    else:
        print(token)
