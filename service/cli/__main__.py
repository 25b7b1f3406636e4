"""`python -m service.cli`: the same as `cmaa`."""

from service.cli.app import main

main()
