"""The generation task: one procrastinate task per difference, declared on a Blueprint.

The worker's app (`lib.worker.app`) adds this blueprint under the `generation` namespace, which makes
the task's full name `lib.generation.enqueue.GENERATE_TASK`. Delivery is at least once: the handler is
idempotent (`lib.generation.pipeline.run_difference`).
"""

from __future__ import annotations

import logging
from uuid import UUID

import procrastinate

from lib.core import logs
from lib.generation import batches, economy, pipeline
from lib.generation.enqueue import GENERATE_TASK
from lib.generation.runtime import runtime

log = logging.getLogger(__name__)
blueprint = procrastinate.Blueprint()
NAMESPACE, _, _NAME = GENERATE_TASK.partition(":")


@blueprint.task(name=_NAME, retry=procrastinate.RetryStrategy(
    max_attempts=60, wait=2, retry_exceptions={pipeline.NotReady}))
def generate_difference(job_id: str, difference_id: str = "", item_id: str = "") -> str:
    """Generate one difference (safe to run again: an ended one is left alone, a running one is redone).

    `item_id` is how jobs queued before the rename name the difference.
    """
    uid = UUID(difference_id or item_id)
    with logs.bound(batch_id=job_id, item_id=uid):  # every line of this image says which batch and image
        return _generate(job_id, uid)


def _generate(job_id: str, uid: UUID) -> str:
    rt = runtime()
    with rt.engine.begin() as conn:
        name = pipeline.backend_of(conn, difference_id=uid)
    if name is None:
        log.info("difference %s of job %s no longer exists (its character was deleted)", uid, job_id)
        return pipeline.GONE
    with rt.engine.begin() as conn:
        stored = economy.stored_answer(conn, rt.store, difference_id=uid)  # an economy item's batch answer
    try:
        status = pipeline.run_difference(rt.engine, rt.store, stored or rt.backend(name), difference_id=uid,
                                         threshold=rt.settings.consistency_threshold)
    except pipeline.NotReady:
        raise  # retried by the task's strategy
    except Exception as exc:
        # Anything unexpected must not leave the difference running with its credits held forever.
        with rt.engine.begin() as conn:
            if pipeline.backend_of(conn, difference_id=uid) is None:  # its character was deleted meanwhile
                log.info("difference %s of job %s was deleted while it ran (%s)", uid, job_id, type(exc).__name__)
                return pipeline.GONE
        log.exception("difference %s of job %s failed unexpectedly", uid, job_id)
        with rt.engine.begin() as conn:
            pipeline.fail_difference(conn, difference_id=uid, kind="internal_error",
                                     reason=f"The studio could not finish this image ({type(exc).__name__}); "
                                            "its credits were refunded. Try regenerating it.")
        raise
    log.info("difference %s of job %s: %s", uid, job_id, status)
    if stored is not None:
        with rt.engine.begin() as conn:  # its variants can go to Gemini now, as the next Batch API job
            economy.defer_submit(conn, job_id=UUID(job_id))
    if status == "done":
        with rt.engine.begin() as conn:
            again = batches.retry_if_below_threshold(conn, difference_id=uid,
                                                     threshold=rt.settings.consistency_threshold)
        if again:
            log.info("difference %s scored below the threshold; attempt queued as %s", uid, again)
    return status


_, _, _SUBMIT_NAME = economy.SUBMIT_TASK.partition(":")
_, _, _POLL_NAME = economy.POLL_TASK.partition(":")


@blueprint.task(name=_SUBMIT_NAME, retry=procrastinate.RetryStrategy(max_attempts=20, wait=30))
def submit_economy(job_id: str) -> str:
    """Send an economy job's waiting items to Gemini as one Batch API job (retried while Gemini is away)."""
    rt = runtime()
    with logs.bound(batch_id=job_id):
        created = economy.submit_wave(rt.engine, rt.store, rt.batch_client(), job_id=UUID(job_id),
                                      poll_seconds=rt.settings.economy_poll_seconds)
    return f"submitted {created}" if created else "nothing waiting"


@blueprint.task(name=_POLL_NAME, retry=procrastinate.RetryStrategy(max_attempts=20, wait=30))
def poll_economy(gemini_batch_id: str) -> str:
    """Ask Gemini once about a Batch API job; resolve it when it ended (queues the next poll otherwise)."""
    rt = runtime()
    polled = economy.poll(rt.engine, rt.store, rt.batch_client(), gemini_batch_id=UUID(gemini_batch_id),
                          poll_seconds=rt.settings.economy_poll_seconds)
    return f"{polled.state} ({polled.taken_over} answers taken over)"


@blueprint.periodic(cron="*/5 * * * *", periodic_id="economy_requeue_polls")
@blueprint.task(name="requeue_economy_polls", queueing_lock="requeue_economy_polls")
def requeue_economy_polls(timestamp: int) -> int:
    """Every 5 minutes: a poll for every open Batch API job that lost its own (a safety net after restarts)."""
    rt = runtime()
    with rt.engine.begin() as conn:
        return economy.requeue_lost_polls(conn, poll_seconds=rt.settings.economy_poll_seconds)
