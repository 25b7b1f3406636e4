"""``cmaa``: run a node and administer it from the host it runs on.

Commands act on the store named by the ``CMAA_*`` environment, as the local
operator (recorded as ``cli``). Each command group lives in its own module here;
this one assembles them into one typer app.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from service.cli import backup, node
from service.cli.agreements import agreements
from service.cli.audit import audit
from service.cli import common, errors
from service.cli.common import err
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


def _unwrap_help(group: typer.Typer) -> None:
    """Each command's help as flowing paragraphs: typer's rich help keeps a docstring's line breaks, which
    in the command lists and at another terminal width broke sentences in the middle."""
    import inspect

    for info in group.registered_commands:
        text = info.help or inspect.getdoc(info.callback) or ""
        info.help = "\n\n".join(" ".join(paragraph.split()) for paragraph in text.split("\n\n")) or None
    for sub in group.registered_groups:
        _unwrap_help(sub.typer_instance)


_unwrap_help(app)


def _plain_placeholders() -> None:
    """The usage line and the options' types as an operator reads them. The typer we pin writes a required
    argument as ``{dest}`` (read as a template placeholder left unfilled) and gives every flag the type
    ``<bool>`` (a flag takes no value). Here: click's own ``DEST`` / ``[DEST]``, and no type after a flag."""
    from typer.core import TyperArgument, TyperOption

    if hasattr(TyperArgument, "_usage_display_name"):
        def usage_name(self) -> str:
            name = self.display_name_raw.upper()
            name = name if self.required else f"[{name}]"
            return name + ("..." if self.nargs != 1 else "")

        TyperArgument._usage_display_name = usage_name
    if hasattr(TyperOption, "display_type_rich"):
        typed = TyperOption.display_type_rich

        def type_shown(self, ctx):
            return None if self.is_flag and self.metavar is None else typed(self, ctx)

        TyperOption.display_type_rich = type_shown


_plain_placeholders()


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        print(f"cmaa-exchange {version('cmaa-exchange')}")
        raise typer.Exit()


@app.callback()
def options(
    debug: Annotated[bool, typer.Option("--debug", help="On an error, show the full traceback")] = False,
    show_version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                               help="Print the version and exit")] = False,
) -> None:
    """cmaa-exchange: the customs mutual-assistance node."""
    common.DEBUG = debug
    errors.operator_logging()


def main() -> None:
    """`cmaa`: every error ends as one or two lines and a non-zero exit; `--debug` shows the traceback."""
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        err.print("aborted")
        raise SystemExit(130) from None
    except Exception as error:  # noqa: BLE001 - the boundary: no traceback reaches an operator unasked
        if _usage_error(error):
            raise SystemExit(_explain_usage(error)) from None
        if common.DEBUG:
            raise
        raise SystemExit(errors.explain(error, err)) from None
    raise SystemExit(code if isinstance(code, int) else 0)


def _usage_error(error: Exception) -> bool:
    """A bad option or argument, as click (vendored by typer) reports it."""
    return all(hasattr(error, name) for name in ("format_message", "exit_code", "show"))


def _explain_usage(error) -> int:
    if type(error).__name__ == "NoArgsIsHelpError":  # `cmaa`, `cmaa keys`: the help, as typer draws it
        from typer import rich_utils

        rich_utils.rich_format_error(error)
        return error.exit_code
    err.print(f"[red]error:[/red] {escape(error.format_message())}", highlight=False, soft_wrap=True)
    context = getattr(error, "ctx", None)
    if context is not None:
        err.print(f"(`{context.command_path} --help` describes the options)", highlight=False)
    return error.exit_code

if __name__ == "__main__":
    main()
