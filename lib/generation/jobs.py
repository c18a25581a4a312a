"""Generation jobs: one row per expression (and per variant), each a single-turn edit.

An expression item edits the approved base; a variant item (mouth_open, blink) edits its expression's
finished image, so it waits for that parent. `run_item` is idempotent: it claims a queued or running
item, stores the image under a key derived from the item id, and only a running item can finish, so
running it twice never stores two results.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine

from lib.accounts.users import User
from lib.backends.base import GenerationFailed, ImageBackend, ImageRequest
from lib.backends.offline import default_face_box
from lib.catalog import custom_expressions, prompts
from lib.catalog.characters import Character, get_character
from lib.consistency import postprocess
from lib.consistency.align import AlignmentFailed
from lib.core import storage
from lib.core.errors import InvalidInput, NotFound, StudioError
from lib.core.queries import q
from lib.core.storage import ObjectStore
from lib.credits import ledger as credits
from lib.design import expressions
from lib.design.expressions import Expression

log = logging.getLogger(__name__)


class NotReady(StudioError):
    """A variant's expression image is not finished yet; run the item again later."""


@dataclass(frozen=True)
class JobRequest:
    """What a user asked for: expressions, variants and the backend settings."""

    expressions: list[Expression]
    variants: list[str]
    backend: str
    model: str
    image_size: str
    paste_back: bool = True
    best_of: int = 1  # up to this many attempts while an image scores below the consistency threshold


@dataclass(frozen=True)
class Item:
    id: UUID
    expression_key: str
    variant: str | None
    status: str
    review: str
    image_key: str | None
    failure_reason: str | None
    failure_kind: str | None
    cost_usd: float
    cost_credits: int
    attempts: list[dict[str, Any]]
    score: float | None
    score_parts: dict[str, Any] | None
    backend: str
    model: str
    image_size: str


def create_job(
    conn: Connection, *, actor: User, character: Character, request: JobRequest
) -> tuple[UUID, list[UUID]]:
    """Create a job and its queued items (expressions first, then their variants); returns their ids."""
    for key in request.variants:
        expressions.variant(key)  # unknown variants are refused before anything is written
    template = prompts.active_template(conn)
    if not 1 <= request.best_of <= 5:
        raise InvalidInput("best-of must be between 1 and 5 attempts")
    settings = {"variants": request.variants, "expressions": [e.key for e in request.expressions],
                "paste_back": request.paste_back, "best_of": request.best_of}
    job = conn.execute(q("insert_job"), {
        "user_id": str(actor.id), "character_id": str(character.id), "backend": request.backend,
        "model": request.model, "image_size": request.image_size, "settings": json.dumps(settings),
        "template_version": template.version,
    }).one()
    ids: list[UUID] = []
    for expression in request.expressions:
        parent = _insert_item(conn, job.id, character, template.body, expression, None, None, len(ids))
        ids.append(parent)
        for v in request.variants:
            ids.append(_insert_item(conn, job.id, character, template.body, expression, v, parent, len(ids)))
    return job.id, ids


def parents_of(conn: Connection, *, job_id: UUID) -> dict[UUID, UUID | None]:
    """Each item of a job mapped to its parent item (None for expressions), in job order."""
    return {r.id: r.parent_id for r in conn.execute(q("job_item_parents"), {"job_id": str(job_id)})}


def _insert_item(
    conn: Connection, job_id: UUID, character: Character, body: str, expression: Expression,
    variant: str | None, parent_id: UUID | None, position: int,
) -> UUID:
    prompt = prompts.build_prompt(body, character_name=character.name, features=character.features,
                                  expression=expression, variant=expressions.variant(variant) if variant else None)
    return conn.execute(q("insert_item"), {
        "job_id": str(job_id), "character_id": str(character.id), "expression_key": expression.key,
        "variant": variant, "parent_id": str(parent_id) if parent_id else None, "prompt": prompt,
        "position": position,
    }).scalar_one()


def _face_of(conn: Connection, row: Any) -> str:
    """The built-in face the offline renderer draws for this item's expression."""
    if row.expression_key in expressions.LIBRARY:
        return row.expression_key
    face = custom_expressions.face_of(conn, character_id=row.character_id, key=row.expression_key)
    if face is None:
        raise NotFound(f"expression {row.expression_key!r} no longer exists")
    return face


def _request_for(conn: Connection, store: ObjectStore, backend: ImageBackend, row: Any) -> ImageRequest:
    source_key = row.base_key
    if row.variant and backend.name != "offline":
        # Gemini edits the finished expression image; the offline renderer redraws from the base.
        state = conn.execute(q("item_state"), {"item_id": str(row.id)}).one()
        source_key = state.parent_image_key
    return ImageRequest(
        base_png=store.get(source_key), prompt=row.prompt, width=row.base_width, height=row.base_height,
        model=row.model, image_size=row.image_size, expression_key=row.expression_key, variant=row.variant,
        features=row.features, face=_face_of(conn, row), face_box=tuple(row.face_box) if row.face_box else None,
        base_generated=row.base_source == "generated",
    )


def _check_parent(conn: Connection, item_id: UUID) -> str | None:
    """None when the item may run; a failure reason when its parent failed; NotReady while it runs."""
    state = conn.execute(q("item_state"), {"item_id": str(item_id)}).one()
    if state.parent_status in (None, "done"):
        return None
    if state.parent_status in ("failed", "cancelled"):
        return "Its expression image could not be made, so this variant was not generated."
    raise NotReady("the expression image for this variant is not finished yet")


def backend_of(conn: Connection, *, item_id: UUID) -> str:
    """The backend name an item's job asked for."""
    row = conn.execute(q("item_backend"), {"item_id": str(item_id)}).one_or_none()
    if row is None:
        raise NotFound(f"item {item_id} not found")
    return row.backend


def run_item(engine: Engine, store: ObjectStore, backend: ImageBackend, *, item_id: UUID) -> str:
    """Generate one item end to end; returns its final status (already-ended items are left alone)."""
    with engine.begin() as conn:
        parent_problem = _check_parent(conn, item_id)
        row = conn.execute(q("claim_item"), {"item_id": str(item_id)}).one_or_none()
        if row is None:
            return conn.execute(q("item_state"), {"item_id": str(item_id)}).one().status
        if parent_problem:
            _fail(conn, row.id, row.job_id, reason=parent_problem, kind="parent_failed", attempts=[])
            return "failed"
        request = _request_for(conn, store, backend, row)
    try:
        result = backend.generate(request)
    except GenerationFailed as exc:
        with engine.begin() as conn:
            _fail(conn, row.id, row.job_id, reason=exc.reason, kind=exc.kind, attempts=_attempts(exc.attempts))
        return "failed"
    box = tuple(row.face_box) if row.face_box else default_face_box(row.base_width, row.base_height)
    try:
        finished = postprocess.finish(
            store.get(row.base_key), result.png, face_box=box, paste=row.settings.get("paste_back", True),
            align=backend.name != "offline", expect_change=row.variant is None and request.face != "neutral")
    except AlignmentFailed as exc:
        with engine.begin() as conn:
            _fail(conn, row.id, row.job_id, reason=f"The result could not be placed on the base: {exc}",
                  kind="misaligned", attempts=_attempts(result.attempts))
        return "failed"
    raw_key = storage.diff_key(user_id=row.user_id, character_id=row.character_id, name=f"{row.id}-raw.png")
    key = storage.diff_key(user_id=row.user_id, character_id=row.character_id, name=f"{row.id}.png")
    store.put(raw_key, result.png)
    store.put(key, finished.png)
    with engine.begin() as conn:
        done = conn.execute(q("finish_item_done"), {
            "item_id": str(row.id), "image_key": key, "raw_key": raw_key, "cost_usd": Decimal(str(result.cost_usd)),
            "attempts": json.dumps(_attempts(result.attempts)), "score": finished.score.total,
            "score_parts": json.dumps(finished.score.to_json()),
        }).one_or_none()
        if done is not None:
            credits.capture(conn, difference_id=row.id)  # same transaction: an image is charged exactly once
            conn.execute(q("refresh_job_status"), {"job_id": str(row.job_id)})
        return "done" if done is not None else conn.execute(q("item_state"), {"item_id": str(row.id)}).one().status


def fail_item(conn: Connection, *, item_id: UUID, kind: str, reason: str) -> None:
    """Mark a queued or running item failed and release its hold (no-op when it already ended)."""
    row = conn.execute(q("item_job"), {"item_id": str(item_id)}).one_or_none()
    if row is not None:
        _fail(conn, item_id, row.job_id, reason=reason, kind=kind, attempts=[])


def _attempts(attempts: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [dataclasses.asdict(a) for a in attempts]


def _fail(conn: Connection, item_id: UUID, job_id: UUID, *, reason: str, kind: str, attempts: list[dict]) -> None:
    failed = conn.execute(q("finish_item_failed"), {"item_id": str(item_id), "reason": reason, "kind": kind,
                                                    "attempts": json.dumps(attempts)}).first()
    if failed is not None:
        credits.release(conn, difference_id=item_id)  # a failed image costs nothing
    conn.execute(q("refresh_job_status"), {"job_id": str(job_id)})


def job_items(conn: Connection, *, actor: User, job_id: str | UUID, any_owner: bool = False) -> list[Item]:
    """The items of the actor's job (NotFound for anyone else's)."""
    try:
        jid = UUID(str(job_id))
    except ValueError:
        raise NotFound(f"job {job_id} not found") from None
    rows = conn.execute(q("job_items"), {"job_id": str(jid), "user_id": str(actor.id),
                                         "any_owner": bool(any_owner and actor.is_admin)}).all()
    if not rows:
        raise NotFound(f"job {jid} not found")
    return [_item(r) for r in rows]


def character_variants(conn: Connection, *, actor: User, character_id: str | UUID, limit: int = 60) -> list[Item]:
    """The latest finished items of the actor's character."""
    character = get_character(conn, actor=actor, character_id=character_id)
    rows = conn.execute(q("character_variants"), {"character_id": str(character.id), "limit": limit})
    return [_item(r) for r in rows]


def _item(row: Any) -> Item:
    return Item(id=row.id, expression_key=row.expression_key, variant=row.variant, status=row.status,
                review=row.review, image_key=row.image_key, failure_reason=row.failure_reason,
                failure_kind=row.failure_kind, cost_usd=float(row.cost_usd), cost_credits=row.cost_credits,
                attempts=list(getattr(row, "attempts", None) or []), backend=row.backend, model=row.model,
                score=row.score, score_parts=row.score_parts,
                image_size=row.image_size)


def run_job_items(
    engine: Engine, store: ObjectStore, backend: ImageBackend, *, item_ids: list[UUID]
) -> Iterator[tuple[int, str]]:
    """Run a job's items in order in this process, yielding (items finished, last status) for progress."""
    for number, item_id in enumerate(item_ids, start=1):  # parents come before their variants
        yield number, run_item(engine, store, backend, item_id=item_id)


def generate_now(
    engine: Engine, store: ObjectStore, backend: ImageBackend, *, actor: User, character_id: str | UUID,
    request: JobRequest,
) -> tuple[UUID, list[Item]]:
    """Create a job and run every item in this process, expressions before their variants."""
    if not request.expressions:
        raise InvalidInput("choose at least one expression")
    with engine.begin() as conn:
        character = get_character(conn, actor=actor, character_id=character_id)
        job_id, item_ids = create_job(conn, actor=actor, character=character, request=request)
    for _ in run_job_items(engine, store, backend, item_ids=item_ids):
        pass
    with engine.begin() as conn:
        return job_id, job_items(conn, actor=actor, job_id=job_id)


def set_review(conn: Connection, *, actor: User, item_id: UUID, review: str) -> None:
    """Approve or reject one finished item of the actor's own job."""
    if review not in ("approved", "rejected", "pending"):
        raise InvalidInput("review must be approved, rejected or pending")
    params = {"item_id": str(item_id), "user_id": str(actor.id), "review": review}
    if conn.execute(q("set_review"), params).first() is None:
        raise NotFound("no finished item with that id")


def recent_jobs(conn: Connection, *, actor: User, character_id: UUID, limit: int = 10) -> list[Any]:
    """The actor's latest jobs for a character, newest first."""
    params = {"user_id": str(actor.id), "character_id": str(character_id), "limit": limit}
    return list(conn.execute(q("recent_jobs"), params))
