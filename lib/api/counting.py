"""ASGI middleware: every request to the REST API counted in `service_calls` (its error-rate and latency alarms)."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lib.core.service_calls import CALLS, ServiceCalls


class CountRequests:
    """Count each HTTP request once it is answered: a server error (5xx, or no answer at all) is a failure, and
    a request is slow when answering it took longer than `slow_seconds`."""

    def __init__(self, app: ASGIApp, *, slow_seconds: float, calls: ServiceCalls = CALLS) -> None:
        self.app = app
        self.slow_seconds = slow_seconds
        self.calls = calls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start, status = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            seconds = time.perf_counter() - start
            self.calls.record("api", ok=status < 500, seconds=seconds, slow=seconds > self.slow_seconds)
