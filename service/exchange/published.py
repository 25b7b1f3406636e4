"""JSON Schemas (draft 2020-12) of everything a partner or an auditor exchanges with a node,
generated from the pydantic wire models, published in ``openapi/envelopes/``.

    python -m service.exchange.published openapi/envelopes    # regenerate the files

``tests/exchange/test_published_schemas.py`` fails when the files and the models drift apart.
One schema per envelope kind (the signed content, JWS payload, with that kind's ``body``),
one for the signed content of any kind (``envelope.schema.json``: ``body`` is checked per
kind by the per-kind files), and one per other document.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, create_model

from service.exchange import documents
from service.exchange.schemas import BODY_SCHEMAS, EnvelopePayload

DIALECT = "https://json-schema.org/draft/2020-12/schema"
BASE_ID = "https://cmaa-exchange.example/schemas/v1/"

DOCUMENTS: dict[str, type[BaseModel]] = {
    "envelope-jwe": documents.EnvelopeJwe,
    "directory": documents.Directory,
    "receipt": documents.Receipt,
    "rejection": documents.Rejection,
    "inbox-answer": documents.InboxAnswer,
    "inbox-problem": documents.InboxProblem,
    "inbox-batch": documents.InboxBatch,
    "inbox-batch-answer": documents.InboxBatchAnswer,
    "checkpoint-answer": documents.CheckpointAnswer,
    "consistency-proof-answer": documents.ConsistencyProofAnswer,
    "inclusion-proof-answer": documents.InclusionProofAnswer,
    "audit-bundle": documents.AuditBundle,
}


def envelope_model(kind: str) -> type[BaseModel]:
    """The signed content of an envelope of ``kind``: the envelope members, ``kind`` fixed, ``body`` its schema."""
    name = "".join(part.title() for part in kind.split("_")) + "Envelope"
    return create_model(name, __base__=EnvelopePayload, __doc__=f"Signed content of a `{kind}` envelope.",
                        kind=(Literal[kind], Field()), body=(BODY_SCHEMAS[kind], Field()))


def _finish(schema: dict[str, Any], name: str, title: str) -> dict[str, Any]:
    return {"$schema": DIALECT, "$id": f"{BASE_ID}{name}.schema.json", "title": title, **schema}


def all_schemas() -> dict[str, dict[str, Any]]:
    """File name → schema, for every published document."""
    out: dict[str, dict[str, Any]] = {}
    generic = EnvelopePayload.model_json_schema(by_alias=True, mode="validation")
    generic["properties"]["kind"] = {"enum": sorted(BODY_SCHEMAS), "title": "Kind"}
    out["envelope.schema.json"] = _finish(generic, "envelope", "cmaa envelope, signed content (any kind)")
    for kind in sorted(BODY_SCHEMAS):
        schema = envelope_model(kind).model_json_schema(by_alias=True, mode="validation")
        out[f"envelope-{kind.replace('_', '-')}.schema.json"] = _finish(
            schema, f"envelope-{kind.replace('_', '-')}", f"cmaa envelope, signed content, kind `{kind}`")
    for name, model in DOCUMENTS.items():
        out[f"{name}.schema.json"] = _finish(model.model_json_schema(by_alias=True, mode="validation"), name,
                                             f"cmaa {name.replace('-', ' ')}")
    return out


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_for_kind(kind: str) -> str:
    return f"envelope-{kind.replace('_', '-')}.schema.json"


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in all_schemas().items():
        path = directory / name
        path.write_text(render(schema), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write(Path(sys.argv[1] if len(sys.argv) > 1 else "openapi/envelopes")):
        print(path)
