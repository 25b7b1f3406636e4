"""The `cmaa` command line: one module per command group, assembled in :mod:`service.cli.app`."""

from service.cli.app import main

__all__ = ["main"]
