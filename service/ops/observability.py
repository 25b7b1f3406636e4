"""Logs and request ids: one JSON object per line, one id per API call.

Every HTTP request gets a request id (the caller's ``X-Request-Id`` when it is a
plain token, else a new one), echoed in the response. The id is bound for the
request's duration, stored on any outbox envelope the request causes, logged by
the courier that delivers it and sent to the partner as ``X-Request-Id``, so one
id follows a message from the API call to its delivery and receipt on both nodes.

What a log line may hold: method, route *template* (``/cases/{case_id}``, never a
filled-in path or query string), status, duration, ids (request, envelope, case,
partner administration), counts and error classes. Never a body, a personal-data
value, a token, key material or envelope plaintext: the request log is built
from those fields only, and uvicorn's own access log (which prints raw paths and
query strings) is switched off.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
import time
import traceback
import uuid
from datetime import datetime, timezone
from typing import Any

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("cmaa_request_id", default=None)
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
access = logging.getLogger("cmaa.access")

# LogRecord attributes that are not the caller's ``extra=`` fields.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName", "color_message"}


def current_request_id() -> str | None:
    return request_id_var.get()


def accept_request_id(value: str | None) -> str:
    """The caller's id if it is a plain token (so it cannot inject into logs), else a new one."""
    if value and _VALID_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", "request_id", ...extra}`` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # The class and the frames, not the message: exception messages can quote input values.
            entry["error"] = record.exc_info[0].__name__
            entry["trace"] = "".join(traceback.format_tb(record.exc_info[2]))
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str = "info", stream=None) -> None:
    """JSON lines on stderr for the ``cmaa`` loggers and uvicorn's error log; no access log."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    numeric = getattr(logging, level.upper(), logging.INFO)
    for name in ("cmaa", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(numeric)
        logger.propagate = False
    quiet = logging.getLogger("uvicorn.access")
    quiet.handlers[:] = []
    quiet.propagate = False
    quiet.disabled = True


def uvicorn_log_config() -> dict:
    """Hand uvicorn a config that keeps our handlers (it would install its own)."""
    return {"version": 1, "disable_existing_loggers": False}


class RequestObservability:
    """ASGI middleware: request id, per-route metrics and one access-log line per request."""

    def __init__(self, app, metrics=None):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        raw = headers.get(b"x-request-id")
        request_id = accept_request_id(raw.decode("latin-1") if raw else None)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [(b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            if self.metrics is not None:
                self.metrics.observe_request(method, template, status, elapsed)
            access.info("request", extra={"method": method, "route": template, "status": status,
                                          "duration_ms": round(elapsed * 1000, 2)})
            request_id_var.reset(token)
