"""The API routes' error boundary: an unexpected error answers 500 JSON with an incident id, never a traceback.

A lost database answers 503 instead (Stripe retries either). The traceback is logged under the id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from lib.core import incidents

Endpoint = Callable[[Request], Awaitable[Response]]


def guarded(endpoint: Endpoint) -> Endpoint:
    """The endpoint, answering its unexpected errors with `{"error": ..., "incident": id}`."""

    @wraps(endpoint)
    async def run(request: Request) -> Response:
        try:
            return await endpoint(request)
        except Exception as exc:  # noqa: BLE001 - the route's error boundary
            incident = incidents.record(exc, where=f"{request.method} {request.url.path}")
            if incident.database_down:
                return JSONResponse({"error": "the database is not reachable", "incident": incident.id},
                                    status_code=503)
            return JSONResponse({"error": "internal error", "incident": incident.id}, status_code=500)

    return run
