"""Put differences on the job queue inside the caller's transaction.

Jobs are written as procrastinate rows on the caller's own connection (one round trip), so a batch,
its credit holds and its tasks commit together. Only the task's name is needed here, not the worker's
app: `lib.generation.tasks` declares the task under that name.
"""

from __future__ import annotations

from uuid import UUID

import procrastinate
import procrastinate.jobs
import procrastinate.manager
from sqlalchemy import Connection

GENERATE_TASK = "generation:generate_difference"
# Deferring always goes through a synchronous connector on the caller's own connection, also inside a
# worker, where the app's connector is the opened asynchronous one; so this connector is never opened.
_deferrer = procrastinate.manager.JobManager(procrastinate.SyncPsycopgConnector(conninfo=""))


def enqueue_differences(
    conn: Connection, *, job_id: UUID, difference_ids: list[UUID], parents: dict[UUID, UUID | None]
) -> None:
    """Defer one task per difference; a variant shares its expression's lock, so it runs after it."""
    jobs = [
        procrastinate.jobs.Job(
            queue=procrastinate.jobs.DEFAULT_QUEUE, lock=str(parents.get(difference_id) or difference_id),
            queueing_lock=None, task_name=GENERATE_TASK,
            task_kwargs={"difference_id": str(difference_id), "job_id": str(job_id)},
        )
        for difference_id in difference_ids
    ]
    _deferrer.batch_defer_jobs(jobs=jobs, connection=conn.connection.driver_connection)
