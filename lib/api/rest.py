"""The REST API, `/api/v1` on the studio's own port (FastAPI, mounted by `studio_app.py`).

JSON over HTTP for scripts and bots, one lib call per endpoint, the same isolation as the pages: another
user's ids answer 404, never 403. Every request carries `Authorization: Bearer <personal access token>`
(lib/accounts/tokens.py). Limits per token and per client address (lib/api/ratelimit.py) answer 429 with
`Retry-After`. Errors are `{"code": …, "message": …}` with a stable code; unexpected ones carry an incident id
instead of internals. The OpenAPI document is `/api/v1/openapi.json`.
"""

import json
import os
from collections.abc import Iterator
from typing import Annotated, Any, BinaryIO
from urllib.parse import quote
from uuid import UUID

from fastapi import Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Connection, Engine
from starlette.exceptions import HTTPException

from lib.accounts import signin, tokens
from lib.accounts.users import User
from lib.api import schemas
from lib.api.bodies import LimitBodies
from lib.api.counting import CountRequests
from lib.api.lazy import Lazy
from lib.api.ratelimit import ApiLimiter, RateLimited
from lib.catalog import characters, custom_expressions
from lib.core import db, incidents
from lib.core.errors import InvalidInput, NotAuthenticated, NotFound, PermissionDenied, StudioError
from lib.core.service_calls import CALLS, ServiceCalls
from lib.core.settings import Settings
from lib.core.storage import ObjectStore, make_store
from lib.credits import statement
from lib.exports import FORMATS
from lib.exports import sets as export_sets
from lib.generation import batches, jobs

PREFIX = "/api/v1"
_CODES: list[tuple[type[StudioError], int, str]] = [
    (NotAuthenticated, 401, "not_authenticated"),
    (PermissionDenied, 403, "forbidden"), (NotFound, 404, "not_found"), (RateLimited, 429, "rate_limited"),
    (InvalidInput, 422, "invalid_input"),
]


class _Parts:
    """The API's dependencies, built on first use (tests pass their own engine and store)."""

    def __init__(self, settings: Settings, engine: Engine | None, store: ObjectStore | None) -> None:
        self.settings = settings
        self.engine = Lazy(lambda: db.get_engine(settings), engine)
        self.store = Lazy(lambda: make_store(settings), store)
        self.limiter = ApiLimiter(limits=settings.api_rate_limits, redis_url=settings.redis_url)


def error(status: int, code: str, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, **extra}, status_code=status,
                        headers={"Retry-After": str(extra["retry_after"])} if "retry_after" in extra else None)


def _studio_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StudioError)
    status, code = next(((s, c) for kind, s, c in _CODES if isinstance(exc, kind)), (409, "refused"))
    extra = {"retry_after": exc.retry_after} if isinstance(exc, RateLimited) else {}
    return error(status, code, str(exc), **extra)


def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in exc.errors())
    return error(422, "invalid_input", problems or "The request is malformed.")


def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    codes = {404: "not_found", 405: "method_not_allowed"}
    return error(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    incident = incidents.record(exc, where=f"{request.method} {request.url.path}")
    if incident.database_down:
        return error(503, "database_unavailable", "The database is not reachable.", incident=incident.id)
    return error(500, "internal", "Something went wrong on our side.", incident=incident.id)


def create_api(settings: Settings, *, engine: Engine | None = None, store: ObjectStore | None = None,
               calls: ServiceCalls = CALLS) -> FastAPI:
    """The `/api/v1` application (mount it at PREFIX; its paths are relative to it)."""
    parts = _Parts(settings, engine, store)
    api = FastAPI(title="Miyabi Character Studio API", version="1", docs_url=None, redoc_url=None,
                  openapi_url="/openapi.json", servers=[{"url": PREFIX}],
                  exception_handlers={StudioError: _studio_error, RequestValidationError: _validation_error,
                                      HTTPException: _http_error, Exception: _unexpected})
    # Uploads are bounded by MAX_UPLOAD_BYTES plus room for the form around them, counted as bytes arrive.
    api.add_middleware(LimitBodies, limit=settings.max_upload_bytes + 64 * 1024)
    api.add_middleware(CountRequests, slow_seconds=settings.alarm_api_slow_seconds, calls=calls)  # outermost
    bearer = HTTPBearer(auto_error=False, description="A personal access token (API tokens page)")

    def actor(request: Request,
              credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> User:
        peer = request.client.host if request.client else None
        address = signin.client_address(peer=peer, forwarded_for=request.headers.getlist("x-forwarded-for"),
                                        trusted=settings.trusted_networks)
        parts.limiter.hit(f"address:{address}")
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise NotAuthenticated("Send a personal access token: `Authorization: Bearer <token>`.")
        with parts.engine().begin() as conn:
            user, token_id = tokens.authenticate(conn, secret=credentials.credentials)
        parts.limiter.hit(f"token:{token_id}")
        return user

    Actor = Annotated[User, Depends(actor)]

    def transaction() -> Iterator[Connection]:
        with parts.engine().begin() as conn:
            yield conn

    # scope="function": commit before the answer is sent, so a client that reads right after a write sees it.
    Conn = Annotated[Connection, Depends(transaction, scope="function")]

    @api.get("/characters", response_model=list[schemas.CharacterOut], tags=["characters"])
    def list_characters(user: Actor, conn: Conn) -> list[schemas.CharacterOut]:
        """The caller's characters, newest first."""
        return [schemas.character(c) for c in characters.list_characters(conn, actor=user)]

    @api.post("/characters", response_model=schemas.CharacterOut, status_code=201, tags=["characters"])
    def create_character(
        user: Actor, conn: Conn, name: Annotated[str, Form(max_length=200)],
        image: Annotated[UploadFile | None, File(description="the base: PNG, JPEG or WebP")] = None,
        features: Annotated[str | None, Form(description="the character's features as JSON")] = None,
        draw_base: Annotated[bool, Form(description="draw the base from the features instead")] = False,
    ) -> schemas.CharacterOut:
        """Create a character from an uploaded base (multipart) or drawn from its features."""
        upload = image.file.read(settings.max_upload_bytes + 1) if image is not None else None
        parsed = characters.features_from_json(features) if features else None
        created = characters.create_with_base(conn, parts.store(), actor=user, name=name, features=parsed,
                                              upload=upload, draw_base=draw_base, settings=settings)
        return schemas.character(created)

    @api.get("/characters/{character_id}", response_model=schemas.CharacterOut, tags=["characters"])
    def get_character(character_id: str, user: Actor, conn: Conn) -> schemas.CharacterOut:
        """One character, with its face box and features."""
        return schemas.character(characters.get_character(conn, actor=user, character_id=character_id))

    @api.get("/characters/{character_id}/base", response_class=Response, tags=["characters"],
             responses={200: {"content": {"image/png": {}}}})
    def character_base(character_id: str, user: Actor, conn: Conn) -> Response:
        """The character's base image (PNG)."""
        character = characters.get_character(conn, actor=user, character_id=character_id)
        return Response(characters.load_base(parts.store(), character), media_type="image/png")

    @api.post("/batches", response_model=schemas.BatchOut, status_code=201, tags=["batches"])
    def submit_batch(body: schemas.BatchIn, user: Actor, conn: Conn) -> schemas.BatchOut:
        """Submit a batch: a preset or expression keys, variants, backend and model. Credits are held now."""
        character = characters.get_character(conn, actor=user, character_id=body.character_id)
        chosen = custom_expressions.resolve(conn, actor=user, character_id=character.id,
                                            keys=body.expressions, preset=body.preset)
        backend = "offline" if body.model == "offline" else "gemini"
        request = jobs.JobRequest(expressions=chosen, variants=body.variants, backend=backend, model=body.model,
                                  image_size=body.image_size or settings.gemini_image_size,
                                  paste_back=body.paste_back, best_of=body.best_of,
                                  tier="economy" if body.economy else "standard")
        submitted = batches.submit(conn, actor=user, character=character, request=request, settings=settings)
        return _batch(conn, user, submitted.job_id, credits_held=submitted.credits_held)

    @api.get("/batches/{batch_id}", response_model=schemas.BatchOut, tags=["batches"])
    def get_batch(batch_id: str, user: Actor, conn: Conn) -> schemas.BatchOut:
        """A batch's progress and items (status, score, failure reason, image URL)."""
        return _batch(conn, user, batch_id)

    @api.post("/batches/{batch_id}/cancel", response_model=schemas.BatchOut, tags=["batches"])
    def cancel_batch(batch_id: str, user: Actor, conn: Conn) -> schemas.BatchOut:
        """Cancel the batch's items that have not started; their credits are released."""
        batches.cancel(conn, actor=user, job_id=batch_id)
        return _batch(conn, user, batch_id)

    @api.get("/differences/{difference_id}/image", response_class=Response, tags=["batches"],
             responses={200: {"content": {"image/png": {}}}})
    def difference_image(difference_id: str, user: Actor, conn: Conn) -> Response:
        """A finished item's image (PNG)."""
        item = jobs.get_difference(conn, actor=user, difference_id=difference_id)
        if item.image_key is None:
            raise NotFound(f"image {item.id} has no picture ({item.status})")
        return Response(parts.store().get(item.image_key), media_type="image/png")

    @api.post("/differences/{difference_id}/review", response_model=schemas.DifferenceOut, tags=["batches"])
    def review(difference_id: str, body: schemas.ReviewIn, user: Actor, conn: Conn) -> schemas.DifferenceOut:
        """Approve or reject a finished item (or set it back to pending)."""
        item = jobs.get_difference(conn, actor=user, difference_id=difference_id)
        jobs.set_review(conn, actor=user, difference_id=item.id, review=body.review)
        return schemas.difference(jobs.get_difference(conn, actor=user, difference_id=item.id), PREFIX)

    @api.get("/characters/{character_id}/export", response_class=StreamingResponse, tags=["exports"],
             responses={200: {"content": {"application/zip": {}, "image/vnd.adobe.photoshop": {}}}})
    def export(character_id: str, user: Actor, conn: Conn,
               format: Annotated[schemas.Format, Query(description="the export's format")] = "zip",
               approved_only: bool = False) -> StreamingResponse:
        """The character's set as ZIP, layered PSD, Ren'Py, PNGtuber or SillyTavern, streamed."""
        character = characters.get_character(conn, actor=user, character_id=character_id)
        path = export_sets.write(conn, parts.store(), actor=user, character_id=character.id, fmt=format,
                                 approved_only=approved_only)
        handle = path.open("rb")
        path.unlink()  # the open handle keeps the data until the response is sent or abandoned
        name = f"{export_sets.build(conn, actor=user, character_id=character.id).slug}{FORMATS[format].suffix}"
        return StreamingResponse(_chunks(handle), media_type=FORMATS[format].mime, headers={
            "Content-Length": str(os.fstat(handle.fileno()).st_size),
            "Content-Disposition": f"attachment; filename*=utf-8''{quote(name)}"})

    @api.get("/credits", response_model=schemas.CreditsOut, tags=["credits"])
    def credits(user: Actor, conn: Conn, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> schemas.CreditsOut:
        """The caller's balance and newest ledger entries."""
        return schemas.credits(statement.statement(conn, user_id=user.id, limit=limit))

    return api


def _batch(conn: Connection, user: User, batch_id: str | UUID, *, credits_held: int | None = None) -> schemas.BatchOut:
    progress = batches.progress(conn, actor=user, job_id=batch_id)
    items = jobs.job_differences(conn, actor=user, job_id=batch_id, any_owner=True)
    return schemas.batch(str(batch_id), progress, items, PREFIX, credits_held=credits_held)


def _chunks(handle: BinaryIO, size: int = 1 << 20) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(size):
            yield chunk


def openapi_document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI document as served (for tests and the README)."""
    return json.loads(json.dumps(create_api(settings).openapi()))
