"""The exported OpenAPI document, kept equal to the app's by a test."""

from __future__ import annotations

import json


def openapi_document() -> str:
    from service.http.app import api_shell

    return json.dumps(api_shell().openapi(), indent=2, sort_keys=True) + "\n"
