"""One difference, end to end: build its request, call the backend, post-process, store, capture or refund.

`run_difference` is idempotent: it claims a queued or running difference, stores the image under a key
derived from its id, and only a running difference can finish, so running it twice never stores two
results or charges twice. A variant (mouth_open, blink) edits its expression's finished image, so it
waits for that parent (`NotReady`). Work follows its owner: a disabled account's item is cancelled and
refunded instead of started, and an item whose character was deleted meanwhile stores nothing and is not
charged (what its worker already wrote is removed again).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Engine

from lib.backends.base import GenerationFailed, ImageBackend, ImageRequest
from lib.backends.offline import default_face_box
from lib.catalog import custom_expressions
from lib.consistency import postprocess
from lib.consistency.align import AlignmentFailed
from lib.consistency.face_parts import FaceParts
from lib.core import logs, storage, thumbnails
from lib.core.errors import NotFound, StudioError
from lib.core.queries import q
from lib.core.storage import ObjectStore
from lib.credits import ledger
from lib.design import expressions
from lib.design.face_box import FaceBox, FacePoints


class NotReady(StudioError):
    """A variant's expression image is not finished yet; run the item again later."""


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
        state = conn.execute(q("difference_state"), {"difference_id": str(row.id)}).one()
        source_key = state.parent_image_key
    return ImageRequest(
        base_png=store.get(source_key), prompt=row.prompt, width=row.base_width, height=row.base_height,
        model=row.model, image_size=row.image_size, expression_key=row.expression_key, variant=row.variant,
        features=row.features, face=_face_of(conn, row), face_box=FaceBox(*row.face_box) if row.face_box else None,
        face_points=FacePoints.from_json(row.face_points), base_generated=row.base_source == "generated",
        seed=row.attempt if row.attempt > 1 else None,  # a re-run asks for another take
    )


request_for = _request_for  # economy batches build the same requests for the Batch API

GONE = "deleted"  # the status run_difference reports for an item that no longer exists (its character was deleted)


def _status(conn: Connection, difference_id: UUID) -> str:
    state = conn.execute(q("difference_state"), {"difference_id": str(difference_id)}).one_or_none()
    return GONE if state is None else state.status


def _check_parent(conn: Connection, difference_id: UUID) -> str | None:
    """None when the item may run; a failure reason when its parent failed; NotReady while it runs."""
    state = conn.execute(q("difference_state"), {"difference_id": str(difference_id)}).one_or_none()
    if state is None or state.parent_status in (None, "done"):
        return None
    if state.parent_status in ("failed", "cancelled"):
        return "Its expression image could not be made, so this variant was not generated."
    raise NotReady("the expression image for this variant is not finished yet")


def backend_of(conn: Connection, *, difference_id: UUID) -> str | None:
    """The backend name an item's job asked for; None when the item no longer exists."""
    row = conn.execute(q("difference_backend"), {"difference_id": str(difference_id)}).one_or_none()
    return None if row is None else row.backend


def _cancel_if_owner_disabled(conn: Connection, difference_id: UUID) -> bool:
    """Cancel and refund an unfinished item of a disabled account instead of starting it."""
    row = conn.execute(q("cancel_difference_of_disabled_owner"), {"difference_id": str(difference_id)}).one_or_none()
    if row is None:
        return False
    ledger.release(conn, difference_id=difference_id)
    refresh_job_status(conn, job_id=row.job_id)
    return True


def _claim(conn: Connection, difference_id: UUID) -> Any:
    """The claimed item's row, or the final status to report when it must not run."""
    if _cancel_if_owner_disabled(conn, difference_id):
        return "cancelled"
    parent_problem = _check_parent(conn, difference_id)
    row = conn.execute(q("claim_difference"), {"difference_id": str(difference_id)}).one_or_none()
    if row is None:
        return _status(conn, difference_id)
    if parent_problem:
        _fail(conn, row.id, row.job_id, reason=parent_problem, kind="parent_failed", attempts=[])
        return "failed"
    return row


def run_difference(
    engine: Engine, store: ObjectStore, backend: ImageBackend, *, difference_id: UUID, threshold: float
) -> str:
    """Generate one item end to end; returns its final status (already-ended items are left alone)."""
    with engine.begin() as conn:
        row = _claim(conn, difference_id)
        if isinstance(row, str):
            return row
        logs.bind(user_id=row.user_id)  # the owner, on every line logged while this image is made
        request = _request_for(conn, store, backend, row)
    try:
        result = backend.generate(request)
    except GenerationFailed as exc:
        with engine.begin() as conn:
            _fail(conn, row.id, row.job_id, reason=exc.reason, kind=exc.kind, attempts=_attempts(exc.attempts))
        return "failed"
    with engine.begin() as conn:
        if (status := _status(conn, row.id)) != "running":
            return status  # cancelled or deleted while at the model: store nothing
    box = FaceBox(*row.face_box) if row.face_box else default_face_box(row.base_width, row.base_height)
    try:
        finished = postprocess.finish(
            store.get(row.base_key), result.png, face_box=box, paste=row.settings.get("paste_back", True),
            align=backend.name != "offline", expression=request.face, variant=row.variant, threshold=threshold,
            # an upload's found eyes and mouth, so the score judges the zones of this face; a drawn base keeps the
            # renderer's own proportions, which are exact for it
            parts=FaceParts.from_points(box, *request.face_points)
            if request.face_points and row.base_source == "upload" else None)
    except AlignmentFailed as exc:
        with engine.begin() as conn:
            _fail(conn, row.id, row.job_id, reason=f"The result could not be placed on the base: {exc}",
                  kind="misaligned", attempts=_attempts(result.attempts))
        return "failed"
    return _store_and_finish(engine, store, row, result, finished)


def _store_and_finish(engine: Engine, store: ObjectStore, row: Any, result: Any, finished: Any) -> str:
    """Store the images, then record them and capture the hold in one transaction.

    When the item ended or vanished meanwhile (cancelled, its character deleted), nothing is charged and
    the objects just written are removed, so none is left under a deleted character's prefix.
    """
    raw_key = storage.diff_key(user_id=row.user_id, character_id=row.character_id, name=f"{row.id}-raw.png")
    key = storage.diff_key(user_id=row.user_id, character_id=row.character_id, name=f"{row.id}.png")
    thumb_key = thumbnails.thumbnail_key(key)
    store.put(raw_key, result.png)
    store.put(key, finished.png)
    store.put(thumb_key, thumbnails.thumbnail_webp(finished.image), content_type="image/webp")
    sha256 = hashlib.sha256(finished.png).hexdigest()
    with engine.begin() as conn:
        done = conn.execute(q("finish_difference_done"), {
            "difference_id": str(row.id), "image_key": key, "raw_key": raw_key,
            "cost_usd": Decimal(str(result.cost_usd)), "image_sha256": sha256,
            "attempts": json.dumps(_attempts(result.attempts)), "score": finished.score.total,
            "score_parts": json.dumps(finished.score.to_json()),
        }).one_or_none()
        if done is not None:
            _charge(conn, row, sha256)  # same transaction: an image is charged exactly once
            refresh_job_status(conn, job_id=row.job_id)
            return "done"
        status = _status(conn, row.id)
    if status != "done":  # not ours to keep: a finished run (redelivery) already owns these keys
        for written in (raw_key, key, thumb_key):
            store.delete(written)
    return status


def _charge(conn: Connection, row: Any, sha256: str) -> None:
    """Capture the item's hold, unless the offline renderer (free and deterministic) drew an image the
    character already has: an identical re-run costs nothing, so the hold is released instead. A model's
    answer is always charged (the call was paid for), even when it repeats an earlier one."""
    identical = row.backend == "offline" and conn.execute(q("identical_earlier_image"), {
        "character_id": str(row.character_id), "expression_key": row.expression_key, "variant": row.variant,
        "image_sha256": sha256, "difference_id": str(row.id)}).scalar_one()
    if identical:
        ledger.release(conn, difference_id=row.id)
    else:
        ledger.capture(conn, difference_id=row.id)


def fail_difference(conn: Connection, *, difference_id: UUID, kind: str, reason: str,
                    attempts: list[dict] | None = None) -> None:
    """Mark a queued or running item failed and release its hold (no-op when it already ended)."""
    row = conn.execute(q("difference_job"), {"difference_id": str(difference_id)}).one_or_none()
    if row is not None:
        _fail(conn, difference_id, row.job_id, reason=reason, kind=kind, attempts=attempts or [])


def _attempts(attempts: tuple[Any, ...]) -> list[dict[str, Any]]:
    return [dataclasses.asdict(a) for a in attempts]


def _fail(
    conn: Connection, difference_id: UUID, job_id: UUID, *, reason: str, kind: str, attempts: list[dict]
) -> None:
    failed = conn.execute(q("finish_difference_failed"), {
        "difference_id": str(difference_id), "reason": reason, "kind": kind, "attempts": json.dumps(attempts)}).first()
    if failed is not None:
        ledger.release(conn, difference_id=difference_id)  # a failed image costs nothing
    refresh_job_status(conn, job_id=job_id)


def refresh_job_status(conn: Connection, *, job_id: UUID) -> None:
    """Set the job's status from its items' after one of them ended in this transaction.

    The job row is locked first, in its own statement: the refresh that follows then takes its snapshot after
    any other item transaction of this job has committed, so the last of two items ending at once sees both.
    """
    conn.execute(q("lock_job"), {"job_id": str(job_id)})
    conn.execute(q("refresh_job_status"), {"job_id": str(job_id)})


