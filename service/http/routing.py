"""The app's routes as a flat list (FastAPI keeps included routers as nodes)."""

from __future__ import annotations

from starlette.routing import Match


def api_routes(routes, prefix: str = ""):
    """Every APIRoute of an app as (full path template, route), through included routers."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from api_routes(included.routes, prefix + route.include_context.prefix)
        elif hasattr(route, "dependant"):
            yield prefix + route.path, route


def allowed_methods(app, scope) -> list[str]:
    """The methods of the resource a request's path names: those of every route with the same
    path template as the first route that matches the path (``/cases`` is GET and POST;
    ``/cases/spontaneous`` is POST only, though ``/cases/{case_id}`` would also match it)."""
    probe = {key: scope[key] for key in ("type", "path", "root_path", "headers") if key in scope}
    probe["method"] = "OPTIONS"
    routes = list(api_routes(app.router.routes))
    for template, route in routes:
        if route.matches(probe)[0] is not Match.NONE:
            return sorted({m for t, r in routes if t == template for m in r.methods})
    return []
