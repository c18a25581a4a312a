"""Request bodies of the public routes, read as bounded streams.

The limit is enforced on the bytes actually received: a chunked request has no Content-Length, and a
server in front need not hold a client to the one it sent. Past the limit the route answers 413 with
`Connection: close`, so the server drops the connection instead of reading the rest.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class LimitBodies:
    """ASGI middleware: a request whose body passes `limit` bytes (declared or received) is answered 413.

    For applications that parse bodies themselves (FastAPI's JSON and multipart). Past the limit the
    application is told the client went away (it reads nothing more, and no endpoint runs on a partial body);
    whatever it answers to that is replaced by 413 `{"code": "too_large", ...}` with `Connection: close`.
    """

    def __init__(self, app: ASGIApp, *, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = JSONResponse({"code": "too_large", "message": f"The request body is larger than {self.limit} bytes."},
                               status_code=413, headers={"Connection": "close"})
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await refusal(scope, receive, send)
            return
        received, too_large, started = 0, False, False

        async def counted() -> Message:
            nonlocal received, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        async def answered(message: Message) -> None:
            nonlocal started
            if too_large:
                return  # the application's answer to a body it never got
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, answered)
        except Exception:
            if not too_large:
                raise
        if too_large and not started:
            await refusal(scope, receive, send)
