"""`cmaa credentials`: API credentials of officials."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from service.cli.common import BY, open_node, out, print_columns, refusing

credentials = typer.Typer(help="API credentials of officials.", no_args_is_help=True)


@credentials.command("issue")
def credentials_issue(
    official_id: str,
    expires_in_days: Annotated[Optional[int], typer.Option(min=1, max=3650, help="Expire after this many days "
                                                           "(default: valid until revoked)")] = None,
) -> None:
    """Issue a bearer credential for an official; it is printed once."""
    from datetime import timedelta

    node = open_node()
    valid_for = timedelta(days=expires_in_days) if expires_in_days else None
    token = refusing(lambda: node.directory.issue_credential(by=BY, official_id=official_id, valid_for=valid_for))
    print(token)


@credentials.command("revoke")
def credentials_revoke(token_id: str, reason: Annotated[str, typer.Option()]) -> None:
    """Revoke a credential by its id (the middle part of the token)."""
    node = open_node()
    refusing(lambda: node.directory.revoke_credential(by=BY, token_id=token_id, reason=reason))
    out.print(f"revoked credential {token_id}")


@credentials.command("list")
def credentials_list() -> None:
    """Every credential issued: id, official, issued, expiry, revoked (never the token itself)."""

    def when(moment) -> str:
        return moment.isoformat(timespec="seconds")

    print_columns(("id", "official", "issued", "expires", "revoked"),
                  [(c["token_id"], c["official_id"], when(c["issued_at"]),
                    when(c["expires_at"]) if c["expires_at"] else "never",
                    when(c["revoked_at"]) if c["revoked_at"] else "no") for c in open_node().directory.credentials()])
