"""A worker process: serve the job engine's tasks until SIGINT/SIGTERM (`python -m lib worker`)."""

from __future__ import annotations

import asyncio
import gc
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cv2
import procrastinate
import threadpoolctl

from lib.core import db, service_calls
from lib.core.settings import Settings
from lib.generation.runtime import runtime
from lib.worker.app import app

log = logging.getLogger(__name__)


def one_thread_per_call() -> threadpoolctl.threadpool_limits:
    """Keep numpy's BLAS and OpenCV to one thread per call in this process.

    A worker's parallelism is its concurrent items. Libraries that also split every call over all
    cores only contend with them, and idle OpenBLAS threads spin: on two cores that doubled the CPU
    time of post-processing an image. Returns the BLAS limits (`.restore_original_limits()`).
    """
    cv2.setNumThreads(1)
    return threadpoolctl.threadpool_limits(limits=1)


def run_worker(settings: Settings, *, concurrency: int | None = None, **options: Any) -> None:
    """Serve tasks until SIGINT/SIGTERM."""
    one_thread_per_call()
    conninfo = db.database_url(settings).replace("postgresql+psycopg://", "postgresql://")
    slots = concurrency or settings.worker_concurrency

    log.info("worker ready with backends: %s", ", ".join(runtime().warm()))
    # Everything loaded so far (libraries, the warmed backends) lives as long as the process: keep it out of
    # the cyclic collector's full passes, which otherwise walk it again and again while images are made.
    gc.freeze()
    service_calls.start_flushing(lambda: db.get_engine(settings))  # its storage operations, for the alarms

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
