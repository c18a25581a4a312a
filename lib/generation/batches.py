"""Batches: submit a whole expression set in ONE transaction, cancel it, wait for it.

Submitting checks the plan, creates the job and one row per expression/variant, holds the credits
(refused whole when the balance cannot cover it) and enqueues one task per row on the job engine in
the same transaction: after commit all of it exists, or none of it does.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import Connection, Engine, Row

from lib.accounts.users import User
from lib.catalog.characters import Character, base_problem
from lib.core.errors import InvalidInput, NotFound, StudioError
from lib.core.queries import q
from lib.core.settings import Settings
from lib.credits import ledger
from lib.generation import economy, jobs
from lib.generation.enqueue import enqueue_differences


class NoWorker(StudioError):
    """No worker is alive to run queued items."""


@dataclass(frozen=True)
class Submitted:
    job_id: UUID
    difference_ids: list[UUID]
    credits_held: int
    credits_per_image: int


@dataclass(frozen=True)
class Progress:
    total: int
    open: int
    done: int
    failed: int
    status: str
    cancelled: int = 0
    tier: str = "standard"


def _passed(row: Row, threshold: float) -> bool:
    """The score's own verdict on the image users get (total and flags); older rows: the total alone."""
    verdict = (row.score_parts or {}).get("passed")
    return bool(verdict) if isinstance(verdict, bool) else row.score >= threshold


def retry_if_below_threshold(conn: Connection, *, difference_id: UUID, threshold: float) -> UUID | None:
    """Best-of-n: queue another attempt of a finished item whose final image the score did not pass.

    The attempt is always a standard item, also for an economy image (see lib.generation.economy).

    Only the image users get counts: drift that paste-back restored does not pay for another call. The
    attempt is charged like the first (a new hold; nothing is queued when the balance cannot cover it)
    and shown next to it. Returns the new item's id, or None.
    """
    row = conn.execute(q("retry_candidate"), {"difference_id": str(difference_id)}).one_or_none()
    if row is None or row.score is None or _passed(row, threshold):
        return None
    if row.attempts_made >= int(row.settings.get("best_of", 1)):
        return None
    credits = row.credits or 0
    if row.tier == "economy":  # the retry is a standard call: charged at the standard price
        credits = ledger.price(conn, backend=row.backend, model=row.model, image_size=row.image_size,
                               offline_credits=0)
    new_id = conn.execute(q("insert_retry_difference"), {
        "job_id": str(row.job_id), "character_id": str(row.character_id), "expression_key": row.expression_key,
        "variant": row.variant, "parent_id": str(row.parent_id) if row.parent_id else None, "prompt": row.prompt,
        "position": row.position, "attempt": row.attempts_made + 1,
    }).scalar()
    if new_id is None:
        return None  # another worker already queued this attempt
    try:
        with conn.begin_nested():
            ledger.hold_items(conn, user_id=row.user_id, job_id=row.job_id, items=[(new_id, credits)])
    except ledger.InsufficientCredits:
        conn.execute(q("delete_difference"), {"difference_id": str(new_id)})
        return None
    conn.execute(q("reopen_job"), {"job_id": str(row.job_id)})
    enqueue_differences(conn, job_id=row.job_id, difference_ids=[new_id], parents={new_id: row.parent_id})
    return new_id


def check_plan(balance: ledger.Balance, *, request: jobs.JobRequest, images: int) -> None:
    """Refuse models, sizes and batch sizes the user's plan does not include."""
    if request.model not in balance.allowed_models and request.backend != "offline":
        raise InvalidInput(f"The {balance.plan} plan does not include {request.model}; "
                           f"it includes {', '.join(m for m in balance.allowed_models if m != 'offline')}.")
    if request.backend != "offline" and request.image_size not in balance.allowed_sizes:
        raise InvalidInput(f"The {balance.plan} plan does not include {request.image_size} images; "
                           f"choose {', '.join(balance.allowed_sizes)}.")
    if images > balance.max_batch_size:
        raise InvalidInput(f"This batch has {images} images; the {balance.plan} plan allows "
                           f"{balance.max_batch_size} per batch.")


def estimate(conn: Connection, *, actor: User, request: jobs.JobRequest, settings: Settings) -> tuple[int, int]:
    """(images, credits) a request would cost, for showing before submitting."""
    images = len(request.expressions) * (1 + len(request.variants))
    per_image = ledger.price(conn, backend=request.backend, model=request.model, image_size=request.image_size,
                              offline_credits=settings.offline_credits_per_image)
    if request.tier == "economy":
        per_image = economy.credits_per_image(per_image, percent=settings.economy_credit_percent)
    return images, images * per_image


def submit(
    conn: Connection, *, actor: User, character: Character, request: jobs.JobRequest, settings: Settings
) -> Submitted:
    """Create, pay for and enqueue a batch, all inside the caller's transaction."""
    images = len(request.expressions) * (1 + len(request.variants))
    if images == 0:
        raise InvalidInput("choose at least one expression")
    if problem := base_problem(character, settings=settings):
        raise InvalidInput(problem)  # a base stored before the shape rule: every image would fail
    check_plan(ledger.balance(conn, user_id=actor.id), request=request, images=images)
    _, total = estimate(conn, actor=actor, request=request, settings=settings)
    job_id, difference_ids = jobs.create_job(conn, actor=actor, character=character, request=request)
    per_image = total // images
    ledger.hold_items(conn, user_id=actor.id, job_id=job_id, items=[(i, per_image) for i in difference_ids])
    if request.tier == "economy":
        economy.defer_submit(conn, job_id=job_id)  # a worker sends them to Gemini as one Batch API job
    else:
        enqueue_differences(conn, job_id=job_id, difference_ids=difference_ids,
                            parents=jobs.parents_of(conn, job_id=job_id))
    return Submitted(job_id=job_id, difference_ids=difference_ids, credits_held=total, credits_per_image=per_image)


MAX_ATTEMPTS = 20  # attempts one slot of a batch can have (the database's CHECK says the same)


def split(request: jobs.JobRequest, *, max_images: int) -> list[jobs.JobRequest]:
    """The request as consecutive batches of at most `max_images`, each expression with all its variants."""
    per_expression = 1 + len(request.variants)
    size = max(max_images // per_expression, 1)
    chunks = [request.expressions[i:i + size] for i in range(0, len(request.expressions), size)]
    return [dataclasses.replace(request, expressions=chunk) for chunk in chunks]


def submit_split(
    conn: Connection, *, actor: User, character: Character, request: jobs.JobRequest, settings: Settings
) -> list[Submitted]:
    """Submit a request larger than the plan's batch size as several batches, all or none (one transaction)."""
    limit = ledger.balance(conn, user_id=actor.id).max_batch_size
    return [submit(conn, actor=actor, character=character, request=part, settings=settings)
            for part in split(request, max_images=limit)]


def regenerate(conn: Connection, *, actor: User, difference_id: UUID, settings: Settings) -> Submitted:
    """Make one item again as another attempt of the same slot of its batch, charged like the first.

    The attempts sit side by side in the batch and the reviewer picks one. A variant is made from its
    expression's approved attempt (else the one it was first made from).
    """
    row = conn.execute(q("attempt_slot"), {"difference_id": str(difference_id), "user_id": str(actor.id)}).one_or_none()
    if row is None:
        raise NotFound("There is no finished image with that id to make again.")
    if row.attempts_made >= MAX_ATTEMPTS:
        raise InvalidInput(f"This image already has {MAX_ATTEMPTS} attempts; start a new batch to make it again.")
    check_plan(ledger.balance(conn, user_id=actor.id), request=jobs.JobRequest(
        expressions=[], variants=[], backend=row.backend, model=row.model, image_size=row.image_size), images=1)
    per_image = ledger.price(conn, backend=row.backend, model=row.model, image_size=row.image_size,
                             offline_credits=settings.offline_credits_per_image)
    new_id = conn.execute(q("insert_retry_difference"), {
        "job_id": str(row.job_id), "character_id": str(row.character_id), "expression_key": row.expression_key,
        "variant": row.variant, "parent_id": str(row.edit_parent_id) if row.edit_parent_id else None,
        "prompt": row.prompt, "position": row.position, "attempt": row.attempts_made + 1,
    }).scalar()
    if new_id is None:
        raise InvalidInput("This image is already being made again.")
    ledger.hold_items(conn, user_id=actor.id, job_id=row.job_id, items=[(new_id, per_image)])
    conn.execute(q("reopen_job"), {"job_id": str(row.job_id)})
    enqueue_differences(conn, job_id=row.job_id, difference_ids=[new_id], parents={new_id: row.edit_parent_id})
    return Submitted(job_id=row.job_id, difference_ids=[new_id], credits_held=per_image, credits_per_image=per_image)


@dataclass(frozen=True)
class Cancelled:
    images: int  # items cancelled before anything was spent on them
    credits: int  # credits given back for them
    still_running: int  # items already at the model: they finish and are charged


def cancel(conn: Connection, *, actor: User, job_id: str | UUID) -> Cancelled:
    """Cancel the items nothing was spent on yet (queued ones, and any offline one) and refund their holds."""
    job = _job(conn, actor=actor, job_id=job_id)
    cancelled = list(conn.execute(q("cancel_unstarted_differences"), {"job_id": str(job.id)}).scalars())
    credits = sum(ledger.release(conn, difference_id=difference_id) for difference_id in cancelled)
    if conn.execute(q("mark_job_cancelled"), {"job_id": str(job.id)}).first() is None and not cancelled:
        raise InvalidInput("This batch has already ended, so there is nothing left to cancel.")
    running = conn.execute(q("job_progress"), {"job_id": str(job.id)}).one().open
    return Cancelled(images=len(cancelled), credits=credits, still_running=running)


def _job(conn: Connection, *, actor: User, job_id: str | UUID) -> Row:
    try:
        jid = UUID(str(job_id))
    except ValueError:
        raise NotFound(f"job {job_id} not found") from None
    row = conn.execute(q("job_of_user"), {"job_id": str(jid), "user_id": str(actor.id),
                                          "any_owner": actor.is_admin}).one_or_none()
    if row is None:
        raise NotFound(f"job {jid} not found")
    return row


def progress(conn: Connection, *, actor: User, job_id: str | UUID) -> Progress:
    job = _job(conn, actor=actor, job_id=job_id)
    row = conn.execute(q("job_progress"), {"job_id": str(job.id)}).one()
    return Progress(total=row.total, open=row.open, done=row.done, failed=row.failed, status=job.status,
                    cancelled=row.cancelled, tier=job.tier)


def workers_alive(conn: Connection, *, within_seconds: float) -> int:
    return conn.execute(q("workers_alive"), {"seconds": within_seconds}).scalar_one()


def any_worker(engine: Engine, *, settings: Settings, grace_seconds: float = 5.0) -> bool:
    """Whether a worker is alive, allowing one that is just starting a few seconds to check in."""
    deadline = time.monotonic() + grace_seconds
    while True:
        with engine.begin() as conn:
            if workers_alive(conn, within_seconds=settings.worker_stall_seconds):
                return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)


def wait(
    engine: Engine, *, actor: User, job_id: UUID, settings: Settings, timeout: float = 3600,
    on_progress: Callable[[Progress], None] | None = None, poll_seconds: float = 0.5,
) -> Progress:
    """Block until every item has ended; NoWorker when no worker has been alive for a while."""
    deadline = time.monotonic() + timeout
    alive_window = settings.worker_stall_seconds
    last_alive = time.monotonic()  # a worker that is just starting gets the same grace as a stalled one
    while True:
        with engine.begin() as conn:
            now = progress(conn, actor=actor, job_id=job_id)
            alive = workers_alive(conn, within_seconds=alive_window)
        if on_progress:
            on_progress(now)
        if now.open == 0:
            return now
        if alive:
            last_alive = time.monotonic()
        elif time.monotonic() - last_alive > alive_window:
            raise NoWorker(f"No worker is running, so job {job_id} stays queued ({now.open} items waiting). "
                           "Start one with `python -m lib worker` (make run starts one).")
        if time.monotonic() > deadline:
            raise StudioError(f"job {job_id} is still running after {timeout:.0f} s")
        time.sleep(poll_seconds)
