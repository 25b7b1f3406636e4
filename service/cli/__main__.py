"""`python -m service.cli`: the same as `cmaa`."""

import signal
import sys

if "--child" in sys.argv[1:4] and sys.argv[1:3] == ["courier", "run"]:
    # The courier child of `cmaa serve` (service/exchange/courier_runners.py): the node stops it by closing its
    # stdin. A SIGTERM or Ctrl-C meant for the node (systemd stops the whole control group, `timeout` and a
    # terminal signal the process group) must not kill it, not even while it is still starting.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)

from service.cli.app import main  # noqa: E402

main()
