"""The `cmaa` command line: one module per command group, assembled in :mod:`service.cli.app`."""


def main() -> None:
    # Imported when called, not with the package: `python -m service.cli` runs __main__.py first thing
    # (the courier child sets its signals there before anything slow is imported).
    from service.cli.app import main as run

    run()


__all__ = ["main"]
