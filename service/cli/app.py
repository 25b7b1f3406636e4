"""``cmaa``: run a node and administer it from the host it runs on.

Commands act on the store named by the ``CMAA_*`` environment, as the local
operator (recorded as ``cli``). Each command group lives in its own module here;
this one assembles them into one typer app.
"""

from __future__ import annotations

import typer

from service.cli import backup, node
from service.cli.agreements import agreements
from service.cli.audit import audit
from service.cli.common import err
from service.settings import Settings
from service.cli.courier import courier
from service.cli.credentials import credentials
from service.cli.dpo import dpo
from service.cli.keys import keys
from service.cli.officials import officials
from service.cli.partners import partners

# Pretty tracebacks would print local variables (tokens, passphrases): off.
app = typer.Typer(help="cmaa-exchange: the customs mutual-assistance node.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
app.command()(node.serve)
app.command()(node.init)
app.command()(backup.backup)
app.command()(backup.restore)
app.command("openapi")(node.export_openapi)
app.command()(node.demo)
for group, name in ((officials, "officials"), (credentials, "credentials"), (partners, "partners"),
                    (agreements, "agreements"), (keys, "keys"), (audit, "audit"), (courier, "courier"),
                    (dpo, "dpo")):
    app.add_typer(group, name=name)


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
    except Exception as exc:
        from adapters.store_faults import store_unavailable

        if not store_unavailable(exc):
            raise
        # One line, no traceback; a supervisor (systemd, Kubernetes) restarts the node.
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        err.print(f"[red]store unavailable:[/red] {_store_name()}: {reason}", highlight=False, soft_wrap=True)
        raise SystemExit(3) from None


def _store_name() -> str:
    try:
        from sqlalchemy.engine import make_url

        return make_url(Settings().store_url).render_as_string(hide_password=True)
    except Exception:
        return "CMAA_DATABASE_URL"


if __name__ == "__main__":
    main()
