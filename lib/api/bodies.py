"""Request bodies of the public routes, read as bounded streams.

The limit is enforced on the bytes actually received: a chunked request has no Content-Length, and a
server in front need not hold a client to the one it sent. Past the limit the route answers 413 with
`Connection: close`, so the server drops the connection instead of reading the rest.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

Handler = Callable[[Request, bytes], Awaitable[Response]]


class _TooLarge(Exception):
    pass


async def read_body(request: Request, *, limit: int) -> bytes:
    """The whole body; _TooLarge as soon as more than `limit` bytes have arrived (the rest is never read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:  # an honest header saves reading; a small one proves nothing
        raise _TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _TooLarge
    return bytes(body)


def bounded(handler: Handler, *, limit: int) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint that reads at most `limit` body bytes, then calls `handler(request, body)`."""

    async def endpoint(request: Request) -> Response:
        try:
            body = await read_body(request, limit=limit)
        except _TooLarge:
            return JSONResponse({"error": f"the body is larger than {limit} bytes"}, status_code=413,
                                headers={"Connection": "close"})
        except ClientDisconnect:
            return Response(status_code=400, headers={"Connection": "close"})  # nobody is listening
        return await handler(request, body)

    return endpoint
