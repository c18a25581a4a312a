"""`GET /files/{token}`: a user's stored images and exports, behind signed links (lib/accounts/links.py).

Pages show images and offer downloads through these links rather than Streamlit's `/media` URLs, which
answer anyone who has them for as long as a page shows them. A link answers only while the session it was
made for is valid: 403 once it expires or the user signs out anywhere, resets the password or is disabled;
404 once the thing is gone (a deleted character). Images are sent inline and cached privately for the rest
of the link's window; an export is built when its link is opened and streamed as an attachment, so the
first click downloads it.
"""

from __future__ import annotations

import mimetypes
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import BinaryIO
from urllib.parse import quote
from uuid import UUID

from sqlalchemy import Connection, Engine
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from lib.accounts import links
from lib.api.boundary import guarded
from lib.api.lazy import Lazy
from lib.core import db
from lib.core.errors import InvalidInput, NotFound, PermissionDenied, StudioError
from lib.core.settings import Settings
from lib.core.storage import ObjectStore, make_store
from lib.exports import FORMATS
from lib.exports import sets as export_sets

_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
_STATUS = {PermissionDenied: 403, NotFound: 404, InvalidInput: 409}


class _Files:
    """The route's dependencies, built on first use (tests pass their own engine and store)."""

    def __init__(self, settings: Settings, engine: Engine | None, store: ObjectStore | None) -> None:
        self.settings = settings
        self.engine = Lazy(lambda: db.get_engine(settings), engine)
        self.store = Lazy(lambda: make_store(settings), store)

    def answer(self, token: str) -> Response:
        try:
            with self.engine().begin() as conn:
                link = links.verify(conn, self.settings.cookie_key(), token=token, now=datetime.now(UTC))
                if "key" in link.what:
                    return self._image(str(link.what["key"]))
                if "export" in link.what:
                    return self._export(conn, link)
        except StudioError as exc:
            status = next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 400)
            return PlainTextResponse(str(exc), status_code=status, headers=_HEADERS)
        return PlainTextResponse("Unknown kind of link.", status_code=400, headers=_HEADERS)

    def _image(self, key: str) -> Response:
        data = self.store().get(key)
        media_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        return Response(data, media_type=media_type,
                        headers={**_HEADERS, "Cache-Control": f"private, max-age={self.settings.file_link_seconds}"})

    def _export(self, conn: Connection, link: links.Link) -> Response:
        spec = link.what["export"]
        fmt = str(spec["format"])
        if fmt not in FORMATS:
            raise InvalidInput(f"unknown export format {fmt!r}")
        path = export_sets.write(conn, self.store(), actor=link.user, character_id=UUID(str(spec["character"])),
                                 fmt=fmt, approved_only=bool(spec["approved_only"]))
        handle = path.open("rb")
        path.unlink()  # the open handle keeps the data until the response is sent or abandoned
        size = os.fstat(handle.fileno()).st_size
        disposition = f"attachment; filename*=utf-8''{quote(str(spec['filename']))}"
        return StreamingResponse(_chunks(handle), media_type=FORMATS[fmt].mime,
                                 headers={**_HEADERS, "Cache-Control": "no-store", "Content-Length": str(size),
                                          "Content-Disposition": disposition})


def _chunks(handle: BinaryIO, size: int = 1 << 20) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(size):
            yield chunk


def routes(settings: Settings, *, engine: Engine | None = None, store: ObjectStore | None = None) -> list[BaseRoute]:
    """The files route; without `engine`/`store` they are built from `settings` on first use."""
    files = _Files(settings, engine, store)

    async def serve(request: Request) -> Response:
        return await run_in_threadpool(files.answer, request.path_params["token"])

    return [Route(links.PATH, guarded(serve), methods=["GET"])]
