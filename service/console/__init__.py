"""The web console: server-rendered pages for officials, auditors, the DPO and operators (docs/console.md)."""

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from service.console import auditors, dpo, officials, operators, sign_in, steps
from service.console.session import Sessions
from service.console.web import HERE, PREFIX, router


def mount(app: FastAPI) -> None:
    """Add the console to the node's app (``create_app``)."""
    app.state.console_sessions = Sessions()
    for module in (sign_in, officials, steps, auditors, dpo, operators):
        app.include_router(module.routes)
    # The console's address without its slash (the app makes no slash redirects): a relative Location,
    # kept on the scheme and host the browser used.
    app.add_api_route(PREFIX, lambda: RedirectResponse(f"{PREFIX}/", status_code=307), methods=["GET"],
                      include_in_schema=False)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=str(HERE / "static")), name="console-static")
    last = router()  # after every other console route: an unknown address is a page too
    last.add_api_route("/{anything:path}", sign_in.not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    app.include_router(last)
