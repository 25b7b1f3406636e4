"""Check documents against the published JSON Schemas (``openapi/envelopes/``), independently
of the pydantic models they were generated from: a plain draft 2020-12 validator reads the files.

``signed_documents_follow_published_schemas`` (an autouse fixture in ``tests/conftest.py``)
records every JSON payload the nodes' own code signs during a test — envelopes, receipts,
rejections, directories — every envelope it encrypts, every answer an inbox gives a courier
(receipt or problem), and every audit bundle exported, and checks them when the test ends.

The node processes the end-to-end tests start (``cmaa serve``, its courier child, ``cmaa``
commands) are checked the same way: ``tests/child_hooks/sitecustomize.py``, on the
``PYTHONPATH`` the suite gives its children, installs a :class:`ReportingRecorder` in each,
which writes every violation at once to a file of ``REPORTS_ENV``'s directory (a node killed
with SIGKILL has reported already); the autouse fixture fails the test that made them.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator

# PUBLISHED_SCHEMA_DIR: another copy, for the test that proves a node process's violation is caught.
SCHEMA_DIR = Path(os.environ.get("PUBLISHED_SCHEMA_DIR")
                  or Path(__file__).resolve().parent.parent / "openapi" / "envelopes")
TYP_SCHEMAS = {"cmaa-directory+jws": "directory.schema.json", "cmaa-receipt+jws": "receipt.schema.json",
               "cmaa-rejection+jws": "rejection.schema.json"}
REPORTS_ENV = "PUBLISHED_SCHEMA_REPORTS"  # not CMAA_*: tests/servers.py passes those only as it chooses
PER_SCHEMA_LIMIT = 25  # a load test signs thousands of alike envelopes: check the first few of each schema


@lru_cache(maxsize=None)
def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_for_signed(typ: str, payload: dict) -> str:
    if typ == "cmaa-envelope+jws":
        return f"envelope-{str(payload.get('kind')).replace('_', '-')}.schema.json"
    return TYP_SCHEMAS[typ]


def violations(name: str, document) -> list[str]:
    """What in ``document`` breaks the schema ``name`` (empty: it conforms)."""
    if not (SCHEMA_DIR / name).exists():
        return [f"no published schema {name}"]
    return [f"{name}: {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
            for e in validator(name).iter_errors(document)]


class Recorder:
    def __init__(self) -> None:
        self.documents: list[tuple[str, dict]] = []
        self._seen: Counter = Counter()

    def add(self, name: str, document: dict) -> None:
        self._seen[name] += 1
        if self._seen[name] <= PER_SCHEMA_LIMIT:
            self.documents.append((name, json.loads(json.dumps(document))))

    def problems(self) -> list[str]:
        return [v for name, document in self.documents for v in violations(name, document)]


class ReportingRecorder(Recorder):
    """In a node process started by a test: checks each document at once and appends what breaks
    a schema to ``<directory>/<pid>.txt`` (one line each), since the process may be killed."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.path = Path(directory) / f"{os.getpid()}.txt"
        self.command = " ".join(getattr(sys, "orig_argv", sys.argv)[1:5])

    def add(self, name: str, document: dict) -> None:
        self._seen[name] += 1
        if self._seen[name] > PER_SCHEMA_LIMIT:
            return
        try:
            found = violations(name, json.loads(json.dumps(document)))
        except Exception as error:  # noqa: BLE001 - never break the node; report the failure instead
            found = [f"{name}: could not be checked: {type(error).__name__}: {error}"]
        if found:
            with open(self.path, "a", encoding="utf-8") as out:
                out.writelines(f"[{self.command} pid {os.getpid()}] {line}\n" for line in found)


def child_reports(directory: Path, read: dict[str, int]) -> list[str]:
    """Lines the node processes wrote to ``directory`` since the offsets in ``read`` (updated)."""
    lines = []
    for path in sorted(Path(directory).glob("*.txt")) if Path(directory).is_dir() else []:
        text = path.read_text(encoding="utf-8")
        lines += text[read.get(path.name, 0):].splitlines()
        read[path.name] = len(text)
    return lines


def install(monkeypatch=None, module=None, recorder: Recorder | None = None) -> Recorder:
    """Record what ``service.*`` signs (not what a test forges on purpose) and every bundle exported.

    With ``monkeypatch`` the patches end with the test; without, they are plain ``setattr`` for
    the life of the process (a node process a test started)."""
    from adapters import bundle, jose

    recorder = recorder if recorder is not None else Recorder()
    patch = monkeypatch.setattr if monkeypatch is not None else setattr
    sign = jose.sign
    export = bundle.export_bundle
    encrypt = jose.encrypt

    def recording_sign(payload, key, typ):
        caller = sys._getframe(1).f_globals.get("__name__", "")
        if caller.startswith("service.") and typ in (*TYP_SCHEMAS, "cmaa-envelope+jws"):
            recorder.add(schema_for_signed(typ, payload), json.loads(jose.canonical(payload)))
        return sign(payload, key, typ)

    def recording_encrypt(jws_token, recipients):
        sealed = encrypt(jws_token, recipients)
        if sys._getframe(1).f_globals.get("__name__", "").startswith("service."):
            recorder.add("envelope-jwe.schema.json", sealed)
        return sealed

    def recording_export(*args, **kwargs):
        document = export(*args, **kwargs)
        recorder.add("audit-bundle.schema.json", document)
        return document

    from service.exchange.courier import Courier

    delivered, refused = Courier._delivered, Courier._refused

    # An inbox's answer for one envelope, alone or in a batch (docs/envelope-format.md §3.5), as the courier
    # parsed it (not JSON: an empty dict, which the courier treats as no answer; nothing to check).
    def recording_delivered(courier, row, answer, digests, record):
        if answer:
            recorder.add("inbox-answer.schema.json", answer)
        return delivered(courier, row, answer, digests, record)

    def recording_refused(courier, row, status, answer, retry_after, record):
        # Every 4xx of the inbox but 429 is a problem with a signed rejection (docs/envelope-format.md §3.3).
        if 400 <= status < 500 and status != 429 and answer:
            recorder.add("inbox-problem.schema.json", answer)
        return refused(courier, row, status, answer, retry_after, record)

    patch(Courier, "_delivered", recording_delivered)
    patch(Courier, "_refused", recording_refused)
    patch(jose, "sign", recording_sign)
    patch(jose, "encrypt", recording_encrypt)
    patch(bundle, "export_bundle", recording_export)
    # Modules that imported the function by name (the test's own, service.console.auditors) hold the
    # original, or the wrapper of the test that first imported them: both are replaced by this test's.
    recording_export.__wrapped__ = export
    holders = [module, *(m for name, m in list(sys.modules.items()) if name.startswith("service."))]
    for holder in holders:
        held = getattr(holder, "export_bundle", None)
        if holder is not None and (held is export or getattr(held, "__wrapped__", None) is export):
            patch(holder, "export_bundle", recording_export)
    return recorder
