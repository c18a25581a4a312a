"""Economy batches: a job's items go to Gemini as one Batch API job at the batch price, ready within 24 h.

    submit (one transaction: items, holds at the economy price, a `submit_economy` task)
      -> submit_wave: the items ready now (expressions; later their variants) become one row in
         gemini_batches, then one Batch API job; its name is stored, so any worker can poll it
      -> poll: every ECONOMY_POLL_SECONDS a worker asks Gemini; while it waits, nothing else happens
      -> resolve, when the job ended:
           succeeded  each answer is taken over once: an image is stored and its item queued for the usual
                      post-processing (align, paste-back, score, capture), a blocked or text-only answer
                      fails its item and releases its hold
           failed / expired / cancelled   every item still waiting fails with a reason; holds released
      -> the next wave (variants edit their expression's finished image), until no item waits.

Every step is safe to run again: an item's answer is taken over only while it still waits
(`take_over_batch_answer`), holds resolve exactly once (lib.credits.ledger), and a Batch API job whose submit
was interrupted is found again by its display name before a new one is created. A best-of-n retry of an
economy image is a standard item (one call, at the standard price): waiting a second day for a retry would
defeat the point of best-of-n.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

import procrastinate
import procrastinate.exceptions
import procrastinate.jobs
import procrastinate.manager
from sqlalchemy import Connection, Engine

from lib.backends.base import Attempt, GenerationFailed, ImageRequest, ImageResult
from lib.core import storage
from lib.core.queries import q
from lib.core.storage import ObjectStore
from lib.generation import pipeline
from lib.generation.enqueue import enqueue_differences

log = logging.getLogger(__name__)

_ORPHAN = "Its expression image could not be made, so this variant was not generated."
SUBMIT_TASK = "generation:submit_economy"
POLL_TASK = "generation:poll_economy"
_deferrer = procrastinate.manager.JobManager(procrastinate.SyncPsycopgConnector(conninfo=""))

ENDED_REASONS = {
    "JOB_STATE_FAILED": "Gemini's batch failed before it made this image; nothing was charged and its credits "
                        "were refunded. Submit it again (Economy or Standard).",
    "JOB_STATE_EXPIRED": "Gemini's batch expired before it made this image (Batch API jobs that do not finish "
                         "within 24 h expire); nothing was charged and its credits were refunded. Submit it again, "
                         "or choose Standard.",
    "JOB_STATE_CANCELLED": "Gemini's batch was cancelled before it made this image; its credits were refunded.",
}


class BatchClient(Protocol):
    """What this module needs from the Batch API (lib.backends.gemini_batch.GeminiBatchClient)."""

    def create(self, *, display_name: str, model: str, requests: list[ImageRequest], keys: list[str]) -> Any: ...
    def get(self, *, name: str, model: str, image_size: str) -> Any: ...
    def find(self, *, display_name: str, model: str, image_size: str) -> Any: ...
    def cancel(self, *, name: str) -> None: ...


def credits_per_image(standard: int, *, percent: int) -> int:
    """Credits of an economy image: `percent` of the standard image's, rounded up to a whole credit."""
    return max(1, math.ceil(standard * percent / 100))


# --- queueing -------------------------------------------------------------------------------------------------

def defer_submit(conn: Connection, *, job_id: UUID) -> None:
    """Queue a `submit_economy` for the job (in the caller's transaction)."""
    _defer(conn, SUBMIT_TASK, {"job_id": str(job_id)}, lock=f"economy-submit-{job_id}")


def defer_poll(conn: Connection, *, gemini_batch_id: UUID, after_seconds: float) -> None:
    """Queue the next poll of a Batch API job; at most one poll of a job waits at a time."""
    _defer(conn, POLL_TASK, {"gemini_batch_id": str(gemini_batch_id)}, lock=f"economy-poll-{gemini_batch_id}",
           at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=after_seconds))


def _defer(conn: Connection, task: str, kwargs: dict[str, str], *, lock: str, at: dt.datetime | None = None) -> None:
    waiting = conn.exec_driver_sql(
        "SELECT 1 FROM procrastinate_jobs WHERE queueing_lock = %(lock)s AND status = 'todo'", {"lock": lock}).first()
    if waiting is not None:
        return  # one is queued already: it will see everything this one would
    job = procrastinate.jobs.Job(queue=procrastinate.jobs.DEFAULT_QUEUE, lock=None, queueing_lock=lock,
                                 task_name=task, task_kwargs=kwargs, scheduled_at=at)
    try:
        with conn.begin_nested():  # two workers deferring at once: the second one's insert fails on the lock
            _deferrer.batch_defer_jobs(jobs=[job], connection=conn.connection.driver_connection)
    except procrastinate.exceptions.AlreadyEnqueued:
        log.debug("%s is already queued", lock)


def requeue_lost_polls(conn: Connection, *, poll_seconds: float) -> int:
    """Queue a poll for every open Batch API job that has none (a worker restarted, a task was lost)."""
    ids = list(conn.execute(q("gemini_batches_to_poll")).scalars())
    for gemini_batch_id in ids:
        defer_poll(conn, gemini_batch_id=gemini_batch_id, after_seconds=0)
    return len(ids)


# --- submit ---------------------------------------------------------------------------------------------------

def submit_wave(engine: Engine, store: ObjectStore, client: BatchClient, *, job_id: UUID,
                poll_seconds: float) -> UUID | None:
    """Put the job's economy items that are ready into one new Batch API job; its id, or None if none waits."""
    with engine.begin() as conn:
        if conn.execute(q("economy_items_finishing"), {"job_id": str(job_id)}).scalar_one():
            return None  # the last of them queues this again: their variants then go as one Batch API job
        for orphan in conn.execute(q("economy_orphans"), {"job_id": str(job_id)}).scalars().all():
            pipeline.fail_difference(conn, difference_id=orphan, kind="parent_failed", reason=_ORPHAN)
        ids = list(conn.execute(q("economy_items_ready"), {"job_id": str(job_id)}).scalars())
        if not ids:
            return None
        job = conn.execute(q("job_of_user"), {"job_id": str(job_id), "user_id": str(uuid.uuid4()),
                                              "any_owner": True}).one()
        gemini_batch_id = conn.execute(q("insert_gemini_batch"), {
            "job_id": str(job_id), "display_name": f"miyabi-{uuid.uuid4()}", "model": job.model,
            "image_size": job.image_size, "item_ids": [str(i) for i in ids]}).scalar_one()
        conn.execute(q("assign_gemini_batch"), {"gemini_batch_id": str(gemini_batch_id),
                                                "item_ids": [str(i) for i in ids]})
    _create_remote(engine, store, client, gemini_batch_id=gemini_batch_id, resuming=False)
    with engine.begin() as conn:
        defer_poll(conn, gemini_batch_id=gemini_batch_id, after_seconds=poll_seconds)
    return gemini_batch_id


def _create_remote(engine: Engine, store: ObjectStore, client: BatchClient, *, gemini_batch_id: UUID,
                   resuming: bool) -> None:
    """Create the Batch API job of a row (or, resuming, adopt the one an interrupted submit created)."""
    from lib.backends.gemini_batch import BatchCallFailed

    with engine.begin() as conn:
        batch = conn.execute(q("gemini_batch"), {"gemini_batch_id": str(gemini_batch_id)}).one()
        if batch.name is not None:
            return
        rows = conn.execute(q("economy_item_rows"), {"item_ids": [str(i) for i in batch.item_ids]}).all()
        waiting = [r for r in rows if r.status == "queued"]
        requests = [pipeline.request_for(conn, store, _GEMINI, r) for r in waiting]
    if not waiting:  # every item was cancelled before Gemini heard of it
        with engine.begin() as conn:
            conn.execute(q("gemini_batch_resolved"), {"gemini_batch_id": str(gemini_batch_id),
                                                      "failure_reason": None, "state": "JOB_STATE_CANCELLED"})
        return
    try:
        status = client.find(display_name=batch.display_name, model=batch.model,
                             image_size=batch.image_size) if resuming else None
        if status is None:
            status = client.create(display_name=batch.display_name, model=batch.model, requests=requests,
                                   keys=[str(r.id) for r in waiting])
    except BatchCallFailed as exc:
        if not exc.permanent:
            raise
        _end_all(engine, batch, reason=f"Gemini refused the economy batch: {exc.reason} Its credits were refunded.",
                 state="JOB_STATE_FAILED")
        return
    with engine.begin() as conn:
        if len(waiting) != len(batch.item_ids):  # items cancelled before the create: the job carries the rest
            conn.exec_driver_sql("UPDATE gemini_batches SET item_ids = %(ids)s::uuid[] WHERE id = %(id)s",
                                 {"ids": [str(r.id) for r in waiting], "id": str(gemini_batch_id)})
        conn.execute(q("gemini_batch_submitted"), {
            "gemini_batch_id": str(gemini_batch_id), "name": status.name, "state": status.state,
            "progress": json.dumps(status.progress) if status.progress else None})
    log.info("economy batch %s submitted as %s with %d images", gemini_batch_id, status.name, len(waiting))


class _Named:
    name = "gemini"  # what pipeline.request_for needs to know: variants edit their expression's image


_GEMINI: Any = _Named()


# --- poll and resolve -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Polled:
    state: str  # the Batch API job's state, or "resolved" when there was nothing left to do
    taken_over: int = 0  # answers taken over by this poll (images queued + items failed)


def poll(engine: Engine, store: ObjectStore, client: BatchClient, *, gemini_batch_id: UUID, poll_seconds: float,
         on_item: Callable[[UUID], None] | None = None) -> Polled:
    """Ask Gemini once about a Batch API job; resolve it when it has ended, else queue the next poll.

    `on_item` runs after each item is taken over (tests use it to stop a worker half-way).
    """
    from lib.backends.gemini_batch import BatchCallFailed

    with engine.begin() as conn:
        batch = conn.execute(q("gemini_batch"), {"gemini_batch_id": str(gemini_batch_id)}).one_or_none()
    if batch is None or batch.resolved_at is not None:
        return Polled("resolved")
    if batch.name is None:
        _create_remote(engine, store, client, gemini_batch_id=gemini_batch_id, resuming=True)
        with engine.begin() as conn:
            defer_poll(conn, gemini_batch_id=gemini_batch_id, after_seconds=poll_seconds)
        return Polled("SUBMITTING")
    with engine.begin() as conn:
        open_items = conn.execute(q("open_items_of_gemini_batch"), {"gemini_batch_id": str(gemini_batch_id)}).all()
    if not open_items and batch.state not in ("JOB_STATE_SUCCEEDED",):
        return _cancel_remote(engine, client, batch)  # the user cancelled every item: stop paying for the job
    try:
        status = client.get(name=batch.name, model=batch.model, image_size=batch.image_size)
    except BatchCallFailed as exc:
        log.warning("economy batch %s: poll failed (%s); asking again later", batch.name, exc.reason)
        with engine.begin() as conn:
            defer_poll(conn, gemini_batch_id=gemini_batch_id, after_seconds=poll_seconds)
        return Polled(batch.state)
    with engine.begin() as conn:
        conn.execute(q("gemini_batch_checked"), {
            "gemini_batch_id": str(gemini_batch_id), "state": status.state, "ended": status.ended,
            "progress": json.dumps(status.progress) if status.progress else None})
        if not status.ended:
            defer_poll(conn, gemini_batch_id=gemini_batch_id, after_seconds=poll_seconds)
            return Polled(status.state)
    taken = _resolve(engine, store, batch, status, on_item=on_item)
    return Polled(status.state, taken)


def _cancel_remote(engine: Engine, client: BatchClient, batch: Any) -> Polled:
    from lib.backends.gemini_batch import BatchCallFailed

    try:
        client.cancel(name=batch.name)
    except BatchCallFailed as exc:  # it ended meanwhile, or Gemini is away: the items are settled either way
        log.info("economy batch %s: cancel not accepted (%s)", batch.name, exc.reason)
    with engine.begin() as conn:
        conn.execute(q("gemini_batch_resolved"), {"gemini_batch_id": str(batch.id), "failure_reason": None,
                                                  "state": "JOB_STATE_CANCELLED"})
    return Polled("JOB_STATE_CANCELLED")


def _resolve(engine: Engine, store: ObjectStore, batch: Any, status: Any,
             on_item: Callable[[UUID], None] | None) -> int:
    """Take over every answer of an ended job (once each), then queue the next wave of the job."""
    if status.state != "JOB_STATE_SUCCEEDED":
        taken = _end_all(engine, batch, reason=ENDED_REASONS.get(status.state, "Gemini's batch ended without "
                         "answers; its credits were refunded."), state=status.state)
    else:
        taken = 0
        answers = list(status.answers or [])
        for index, item_id in enumerate(batch.item_ids):
            answer = answers[index] if index < len(answers) else None
            taken += _take_over(engine, store, batch, item_id, answer)
            if on_item is not None:
                on_item(item_id)
        with engine.begin() as conn:
            conn.execute(q("gemini_batch_resolved"), {"gemini_batch_id": str(batch.id), "failure_reason": None,
                                                      "state": None})
    with engine.begin() as conn:
        defer_submit(conn, job_id=batch.job_id)  # variants whose expressions just finished, orphans to fail
    return taken


def _take_over(engine: Engine, store: ObjectStore, batch: Any, item_id: UUID, answer: Any) -> int:
    """One answer: store the image and queue its post-processing, or fail the item; 0 when done before."""
    if answer is None or answer.failure is not None:
        failure = answer.failure if answer is not None else GenerationFailed(
            "no_image", "Gemini's batch returned no answer for this image; its credits were refunded.",
            permanent=False)
        with engine.begin() as conn:
            still_waiting = conn.execute(q("open_items_of_gemini_batch"),
                                         {"gemini_batch_id": str(batch.id)}).scalars().all()
            if item_id not in still_waiting:
                return 0
            pipeline.fail_difference(conn, difference_id=item_id, kind=failure.kind, reason=failure.reason,
                                     attempts=[a.__dict__ for a in failure.attempts])
        return 1
    raw_key = storage.diff_key(user_id=batch.user_id, character_id=batch.character_id, name=f"{item_id}-batch.png")
    store.put(raw_key, answer.png)  # same key and bytes on a re-run: harmless
    with engine.begin() as conn:
        taken = conn.execute(q("take_over_batch_answer"), {
            "difference_id": str(item_id),
            "answer": json.dumps({"raw_key": raw_key, "cost_usd": answer.cost_usd, "usage": answer.usage,
                                  "batch": batch.name})}).one_or_none()
        if taken is None:
            return 0
        enqueue_differences(conn, job_id=batch.job_id, difference_ids=[item_id],
                            parents={item_id: taken.parent_id})
    return 1


def _end_all(engine: Engine, batch: Any, *, reason: str, state: str) -> int:
    """Fail every item of the job still waiting for an answer, releasing its hold, and close the job."""
    with engine.begin() as conn:
        ids = conn.execute(q("open_items_of_gemini_batch"), {"gemini_batch_id": str(batch.id)}).scalars().all()
        for item_id in ids:
            pipeline.fail_difference(conn, difference_id=item_id, kind="batch_" + state.rsplit("_", 1)[-1].lower(),
                                     reason=reason)
        conn.execute(q("gemini_batch_resolved"), {"gemini_batch_id": str(batch.id), "failure_reason": reason,
                                                  "state": state})
    return len(ids)


# --- post-processing of a taken-over answer -------------------------------------------------------------------

class StoredAnswer:
    """An ImageBackend that answers with the image a Batch API job already made (no call, no rate limit)."""

    name = "gemini"

    def __init__(self, store: ObjectStore, answer: dict[str, Any]) -> None:
        self._store = store
        self._answer = answer

    def generate(self, request: ImageRequest) -> ImageResult:
        png = self._store.get(self._answer["raw_key"])
        return ImageResult(png=png, model=request.model, image_size=request.image_size,
                           cost_usd=float(self._answer["cost_usd"]),
                           attempts=(Attempt(1, "ok", 200, 0.0, f"Batch API ({self._answer.get('batch')})"),),
                           usage=dict(self._answer.get("usage") or {}))


def stored_answer(conn: Connection, store: ObjectStore, *, difference_id: UUID) -> StoredAnswer | None:
    """The backend that finishes an economy item from its taken-over answer; None for any other item."""
    answer = conn.execute(q("batch_answer_of"), {"difference_id": str(difference_id)}).scalar()
    return None if answer is None else StoredAnswer(store, answer)


def finish_item(engine: Engine, store: ObjectStore, *, difference_id: UUID, threshold: float) -> str:
    """Post-process, score, store and capture one economy item whose answer was taken over."""
    with engine.begin() as conn:
        backend = stored_answer(conn, store, difference_id=difference_id)
    if backend is None:
        raise ValueError(f"item {difference_id} has no Batch API answer")
    return pipeline.run_difference(engine, store, backend, difference_id=difference_id, threshold=threshold)


@dataclass(frozen=True)
class Waiting:
    """An economy job's Batch API jobs, for the Generate page."""

    state: str
    submitted_at: dt.datetime | None
    items: int
    progress: dict[str, Any] | None
    failure_reason: str | None
    resolved: bool


def waiting(conn: Connection, *, user_id: UUID, job_id: UUID, any_owner: bool = False) -> list[Waiting]:
    rows = conn.execute(q("economy_waiting"), {"job_id": str(job_id), "user_id": str(user_id),
                                               "any_owner": any_owner})
    return [Waiting(state=r.state, submitted_at=r.submitted_at, items=r.items, progress=r.progress,
                    failure_reason=r.failure_reason, resolved=r.resolved_at is not None) for r in rows]
