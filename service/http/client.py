"""How a client of the node's API writes safely: one Idempotency-Key per intended write,
the same key for every retry of it (``service/http/idempotency.py``, docs/operations.md)."""

from __future__ import annotations

import time
import uuid

import httpx

RETRIED = {408, 409, 429, 502, 503, 504}


def post_once(http: httpx.Client, url: str, *, attempts: int = 5, **kwargs) -> httpx.Response:
    """POST with an ``Idempotency-Key``; retry a timeout or a 503 with the same key, so the write
    happens at most once however often it is sent. Other answers are returned as they are."""
    headers = {**kwargs.pop("headers", {}), "Idempotency-Key": f'"{uuid.uuid4()}"'}
    for attempt in range(attempts):
        try:
            response = http.post(url, headers=headers, **kwargs)
        except httpx.TimeoutException:
            if attempt == attempts - 1:
                raise
        else:
            if response.status_code not in RETRIED or attempt == attempts - 1:
                return response
            retry_after = response.headers.get("retry-after", "1")
            time.sleep(min(float(retry_after) if retry_after.isdigit() else 1.0, 5.0))
    raise AssertionError("unreachable")
