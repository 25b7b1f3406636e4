"""docs/api-reference.md: every path of the API grouped by who calls it, generated from the app and
its OpenAPI document (`cmaa openapi --guide docs/api-reference.md`; a test keeps them equal)."""

from __future__ import annotations

import json

GROUPS = (
    ("official", "Designated officials", "Open and work assistance cases, request consent, disclose."),
    ("auditor", "Auditors", "Read cases and histories, replay them with findings, proofs and audit bundles; "
                            "every read is recorded."),
    ("dpo", "The data protection officer", "Access reports, rectification, restriction, erasure, retention, "
                                           "the activity log (JP-NO Art. 9(2))."),
    ("operator", "Operators", "The directory of officials and partners, agreements, keys, metrics."),
    ("partner", "Partner nodes", "Envelopes in, signed directories and checkpoints out. Envelopes are "
                                 "authenticated by their signatures, not by a bearer credential."),
    ("public", "Anyone (no credential)", "Health, readiness, the API description."),
)


def api_guide() -> str:
    from service.http.app import api_shell
    from service.http.openapi import openapi_document
    from service.http.roles import roles_of
    from service.http.routing import api_routes

    app = api_shell()
    operations = json.loads(openapi_document())["paths"]
    rows: dict[str, list[str]] = {key: [] for key, _, _ in GROUPS}
    for path, route in sorted(api_routes(app.routes), key=lambda item: item[0]):
        if not getattr(route, "include_in_schema", True):
            continue
        for method in sorted(route.methods - {"HEAD", "OPTIONS"}):
            operation = operations.get(path, {}).get(method.lower(), {})
            text = (operation.get("description") or operation.get("summary") or "").strip()
            summary = " ".join(text.split("\n\n")[0].split()).replace("|", "\\|")
            roles = roles_of(route)
            row = f"| `{method} {path}` | {', '.join(roles) if roles else '-'} | {summary} |"
            for group in _groups(path, roles):
                rows[group].append(row)
    lines = ["# API reference, by user", "",
             "Generated from the app and `openapi/openapi.json` by `cmaa openapi --guide docs/api-reference.md`; "
             "do not edit by hand. Errors, examples and conventions: [`api.md`](api.md). Every call but the public "
             "ones and the partner inbox needs `Authorization: Bearer <token>` (`cmaa credentials issue`).", ""]
    for key, title, what in GROUPS:
        lines += [f"## {title}", "", what, "", "| method and path | roles | what |", "| --- | --- | --- |",
                  *rows[key], ""]
    return "\n".join(lines)


def _groups(path: str, roles: tuple[str, ...] | None) -> list[str]:
    if roles:
        return [r for r in roles if r in ("official", "auditor", "dpo", "operator")]
    if path.startswith("/exchange") or path.startswith("/audit/"):
        return ["partner"]
    return ["public"]
