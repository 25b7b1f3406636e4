"""A bound on how long a request may wait for the store.

A client that gives up (its timeout) and retries must not find its first attempt stored
later: with one worker thread (``CMAA_API_THREADS``) and a store that hangs, requests queue,
and one that reached the store after its client left used to be stored and acknowledged to
nobody (a duplicate case when the client retried). Each request gets a ticket with a
deadline ``CMAA_STORE_WAIT_SECONDS`` after it arrived (``adapters/store_faults.py``):

* a request still waiting for a worker thread at the deadline is answered at once
  ``503 store-wait-exceeded`` and never starts (the worker refuses its ticket);
* one that started is left to finish — its store statements are bounded by the store's own
  timeouts — but a store write it would begin past the deadline is refused
  (``EventStore.commit``), so nothing is stored after the bound.

Clients should still send ``Idempotency-Key`` on writes (``service/http/idempotency.py``):
that is what makes a retry safe in every case.
"""

from __future__ import annotations

import asyncio
import json
import time

import anyio

from adapters.store_faults import Ticket, reset_ticket, set_ticket


class StoreDeadline:
    def __init__(self, app, seconds: float):
        self.app, self.seconds = app, seconds

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        ticket = Ticket(time.monotonic() + self.seconds)
        scope["cmaa.ticket"] = ticket  # for the error handlers, which run outside this middleware
        token = set_ticket(ticket)
        answering = []  # who answers: the app, or the watch; the other's messages are dropped

        async def app_send(message):
            if message["type"] == "http.response.start":
                if answering:
                    return
                answering.append("app")
            if answering == ["app"]:
                await send(message)

        # A timer on the event loop, not a watching task: a task group and a task per request cost
        # ~0.15 CPU ms (bench/exchange.py). Cancelling the scope stops a request still waiting for
        # a worker thread at once; one that started is never cancelled (expire() is then false).
        scope_of_app = anyio.CancelScope()

        def watch():
            if ticket.expire() and not answering:  # it never started: answer now, drop it
                answering.append("watch")
                scope_of_app.cancel()

        timer = asyncio.get_running_loop().call_later(self.seconds, watch)
        try:
            with scope_of_app:
                await self.app(scope, receive, app_send)
        finally:
            timer.cancel()
            reset_ticket(token)
        if answering == ["watch"]:
            await self._refuse(scope, send)

    async def _refuse(self, scope, send):
        body = json.dumps({"type": "urn:cmaa:problem:store-wait-exceeded", "title": "Store wait exceeded",
                           "status": 503, "detail": f"the request waited {self.seconds:g} s for a worker thread "
                           "(CMAA_STORE_WAIT_SECONDS) and was not started; nothing was done, retry",
                           "instance": scope.get("path", ""), "retry_after": 1}).encode()
        with anyio.CancelScope(shield=True):
            await send({"type": "http.response.start", "status": 503,
                        "headers": [(b"content-type", b"application/problem+json"),
                                    (b"content-length", str(len(body)).encode()), (b"retry-after", b"1")]})
            await send({"type": "http.response.body", "body": body})
