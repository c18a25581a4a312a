"""The job engine: procrastinate on the studio's own Postgres, its tasks, and the worker.

One task per item. An item and its variants share a procrastinate `lock`, so they run one after
another in the order they were enqueued (a variant edits its expression's finished image). Workers
write heartbeats; a periodic task re-queues the jobs of workers that went silent (procrastinate does
not do that by itself), so a worker killed mid-task loses nothing. Handlers are idempotent because
delivery is at least once. Periodic tasks also run the monthly credit resets.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from typing import Any
from uuid import UUID

import cv2
import procrastinate
import procrastinate.manager
import threadpoolctl
from sqlalchemy import Connection, Engine

from lib.backends.base import ImageBackend
from lib.backends.factory import BACKENDS, make_backend
from lib.backends.limiter import LimitedBackend, ModelLimiter
from lib.core import db
from lib.core.errors import ConfigError
from lib.core.settings import Settings, get_settings
from lib.core.storage import ObjectStore, make_store
from lib.credits import ledger as credits
from lib.generation import jobs as generation

log = logging.getLogger(__name__)
GENERATE_TASK = "generate_item"
# Tasks are declared on one app. Deferring uses the caller's own connection (inside its transaction),
# so this connector is never opened; a worker swaps in a connected one (`run_worker`).
app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=""))



class Runtime:
    """What a worker process needs, built once: engine, store, rate-limited backends."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine: Engine = db.get_engine(settings)
        self.store: ObjectStore = make_store(settings)
        self.limiter = ModelLimiter(images_per_minute=settings.gemini_images_per_minute,
                                    max_in_flight=settings.gemini_max_in_flight, redis_url=settings.redis_url)
        self._backends: dict[str, ImageBackend] = {}

    def warm(self) -> list[str]:
        """Build every backend jobs can ask for now (the Gemini SDK import takes seconds), so the first
        tasks of a batch do not queue behind it; returns their names. Gemini without an API key is left
        out: jobs that ask for it fail with that reason."""
        ready = []
        for name in BACKENDS:
            try:
                self.backend(name)
            except ConfigError as exc:
                log.info("backend %s not available: %s", name, exc)
                continue
            ready.append(name)
        return ready

    def backend(self, name: str) -> ImageBackend:
        if name not in self._backends:
            inner = make_backend(self.settings, name)
            self._backends[name] = inner if name == "offline" else LimitedBackend(inner, self.limiter)
        return self._backends[name]


@cache
def runtime() -> Runtime:
    return Runtime(get_settings())


# Deferring always goes through a synchronous connector on the caller's own connection, also inside a
# worker, where the app's connector is the opened asynchronous one.
_deferrer = procrastinate.manager.JobManager(procrastinate.SyncPsycopgConnector(conninfo=""))


def enqueue_items(conn: Connection, *, job_id: UUID, item_ids: list[UUID], parents: dict[UUID, UUID | None]) -> None:
    """Defer one task per item on the caller's connection, inside its transaction (one round trip)."""
    task = app.tasks[GENERATE_TASK]
    jobs = [
        task.configure(lock=str(parents.get(item_id) or item_id)).make_new_job(item_id=str(item_id), job_id=str(job_id))
        for item_id in item_ids
    ]
    _deferrer.batch_defer_jobs(jobs=jobs, connection=conn.connection.driver_connection)


@app.task(name=GENERATE_TASK, retry=procrastinate.RetryStrategy(
    max_attempts=60, wait=2, retry_exceptions={generation.NotReady}))
def generate_item(item_id: str, job_id: str) -> str:
    """Generate one item (safe to run again: an ended item is left alone, a running one is redone)."""
    rt = runtime()
    uid = UUID(item_id)
    with rt.engine.begin() as conn:
        name = generation.backend_of(conn, item_id=uid)
    try:
        status = generation.run_item(rt.engine, rt.store, rt.backend(name), item_id=uid)
    except generation.NotReady:
        raise  # retried by the task's strategy
    except Exception as exc:
        # Anything unexpected must not leave the item running with its credits held forever.
        log.exception("item %s of job %s failed unexpectedly", item_id, job_id)
        with rt.engine.begin() as conn:
            generation.fail_item(conn, item_id=uid, kind="internal_error",
                                 reason=f"The studio could not finish this image ({type(exc).__name__}); "
                                        "its credits were refunded. Try regenerating it.")
        raise
    log.info("item %s of job %s: %s", item_id, job_id, status)
    if status == "done":
        from lib.generation import batches

        with rt.engine.begin() as conn:
            threshold = rt.settings.consistency_threshold
            again = batches.retry_if_below_threshold(conn, item_id=uid, threshold=threshold)
        if again:
            log.info("item %s scored below the threshold; attempt queued as %s", item_id, again)
    return status


@app.periodic(cron="* * * * * */5", periodic_id="retry_stalled")  # croniter: seconds come last
@app.task(name="retry_stalled_jobs", queueing_lock="retry_stalled_jobs", pass_context=True)
async def retry_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> int:
    """Re-queue jobs whose worker stopped sending heartbeats (killed, crashed, lost its machine)."""
    manager = context.app.job_manager
    stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=get_settings().worker_stall_seconds)
    for job in stalled:
        log.warning("re-queueing stalled job %s (%s)", job.id, job.task_name)
        await manager.retry_job(job)
    return len(list(stalled))


@app.periodic(cron="7 * * * *", periodic_id="monthly_resets")
@app.task(name="monthly_resets", queueing_lock="monthly_resets")
def monthly_resets(timestamp: int) -> int:
    """Give every user whose balance belongs to an earlier month this month's credits (once each)."""
    engine = runtime().engine
    period = credits.period_of(credits.today())
    with engine.begin() as conn:
        due = credits.users_due_for_reset(conn, period=period)
    for user_id in due:
        with engine.begin() as conn:
            credits.monthly_reset(conn, user_id=user_id, period=period)
    return len(due)


@app.periodic(cron="*/5 * * * *", periodic_id="refresh_rollup")
@app.task(name="refresh_rollup", queueing_lock="refresh_rollup")
def refresh_rollup(timestamp: int) -> int:
    """Keep the admin reports' rollup current (only the days and months that changed)."""
    from lib.reports import rollup

    with runtime().engine.begin() as conn:
        return len(rollup.refresh_rollup(conn))


@app.periodic(cron="17 * * * *", periodic_id="billing_reconcile")
@app.task(name="billing_reconcile", queueing_lock="billing_reconcile")
def billing_reconcile(timestamp: int) -> str:
    """Repair subscriptions and plans that drifted from Stripe (when billing is configured)."""
    from lib.billing import subscriptions as billing

    settings = get_settings()
    config = billing.config_from_settings(settings)
    if config is None:
        return "billing is not configured"
    with runtime().engine.begin() as conn:
        return str(billing.reconcile(conn, billing.client_from_settings(settings), config=config).as_json())


def one_thread_per_call() -> threadpoolctl.threadpool_limits:
    """Keep numpy's BLAS and OpenCV to one thread per call in this process.

    A worker's parallelism is its concurrent items. Libraries that also split every call over all
    cores only contend with them, and idle OpenBLAS threads spin: on two cores that doubled the CPU
    time of post-processing an image. Returns the BLAS limits (`.restore_original_limits()`).
    """
    cv2.setNumThreads(1)
    return threadpoolctl.threadpool_limits(limits=1)


def run_worker(settings: Settings, *, concurrency: int | None = None, **options: Any) -> None:
    """Serve tasks until SIGINT/SIGTERM (what `python -m lib worker` runs)."""
    one_thread_per_call()
    conninfo = db.database_url(settings).replace("postgresql+psycopg://", "postgresql://")
    slots = concurrency or settings.worker_concurrency

    log.info("worker ready with backends: %s", ", ".join(runtime().warm()))

    async def serve() -> None:
        # Sync tasks run in the loop's default executor, which holds only cpu_count + 4 threads:
        # size it to the concurrency, or image calls would wait for threads instead of the model.
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(slots + 2, thread_name_prefix="task"))
        async with app.open_async():
            await app.run_worker_async(
                concurrency=slots, update_heartbeat_interval=settings.worker_heartbeat_seconds,
                stalled_worker_timeout=settings.worker_stall_seconds, **options,
            )

    with app.replace_connector(procrastinate.PsycopgConnector(conninfo=conninfo)):
        asyncio.run(serve())
