"""Loaded by every Python process the test suite starts (``tests/conftest.py`` puts this
directory on ``PYTHONPATH``): in a node process — ``cmaa serve``, its courier child, any ``cmaa``
command — it checks what the node signs against the published schemas, as the autouse fixture
does in the test process (``tests/published_schemas.py``). Production code has no hook for it:
the recorder wraps ``adapters.jose`` and the courier with plain ``setattr`` before the node runs.
"""

import os
import sys


def _is_a_node_process() -> bool:
    argv = getattr(sys, "orig_argv", [])
    return "service.cli" in argv or any(os.path.basename(a) == "cmaa" for a in argv[1:2])


def _install() -> None:
    import importlib.util
    from pathlib import Path

    # Loaded by its path: the child's sys.path is the node's, without the repository's tests/.
    path = Path(__file__).resolve().parent.parent / "published_schemas.py"
    spec = importlib.util.spec_from_file_location("cmaa_test_published_schemas", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    directory = os.environ[module.REPORTS_ENV]
    module.install(recorder=module.ReportingRecorder(Path(directory)))


if os.environ.get("PUBLISHED_SCHEMA_REPORTS") and _is_a_node_process():
    try:
        _install()
    except Exception as error:  # noqa: BLE001 - an unchecked node must fail its test, not pass silently
        with open(os.path.join(os.environ["PUBLISHED_SCHEMA_REPORTS"], f"{os.getpid()}.txt"), "a") as out:
            out.write(f"[pid {os.getpid()}] the schema recorder could not be installed: {error!r}\n")


# A `cmaa serve` API worker (multiprocessing spawn) that finds another store than its parent did: the store
# emptied or unreachable between the parent's look and the worker's start (tests/e2e/test_api_workers.py).
if os.environ.get("WORKER_TEST_DATABASE_URL") and "spawn_main" in " ".join(getattr(sys, "orig_argv", [])):
    os.environ["CMAA_DATABASE_URL"] = os.environ["WORKER_TEST_DATABASE_URL"]
