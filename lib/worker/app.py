"""The job engine's app: procrastinate on the studio's own Postgres, with every concern's Blueprint.

Each concern declares its tasks on a Blueprint next to its own code; this module only gathers them,
so the job engine imports the concerns and never the other way round. Task names are explicit and
namespaced (`generation:generate_difference`, `credits:monthly_resets`, ...); each task also answers
to the name it had before the blueprints, so jobs queued by an older studio still run.
"""

from __future__ import annotations

import logging

import procrastinate

from lib.billing import tasks as billing_tasks
from lib.core.settings import get_settings
from lib.credits import tasks as credits_tasks
from lib.generation import tasks as generation_tasks
from lib.notifications import tasks as notification_tasks
from lib.ops import tasks as ops_tasks
from lib.reports import tasks as report_tasks

log = logging.getLogger(__name__)

# Deferring uses the caller's own connection (lib.generation.enqueue), so this connector is never
# opened; a worker swaps in a connected one (lib.worker.process.run_worker).
app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=""))
app.add_tasks_from(generation_tasks.blueprint, namespace=generation_tasks.NAMESPACE)
app.add_tasks_from(credits_tasks.blueprint, namespace="credits")
app.add_tasks_from(report_tasks.blueprint, namespace="reports")
app.add_tasks_from(billing_tasks.blueprint, namespace="billing")
app.add_tasks_from(notification_tasks.blueprint, namespace="notifications")
app.add_tasks_from(ops_tasks.blueprint, namespace="ops")
# The names tasks had before the blueprints: jobs an older studio queued still find their task.
OLD_NAMES = {"generate_item": "generation:generate_difference", "monthly_resets": "credits:monthly_resets",
             "refresh_rollup": "reports:refresh_rollup", "billing_reconcile": "billing:billing_reconcile"}
for _old, _new in OLD_NAMES.items():
    app.add_task_alias(app.tasks[_new], _old)


@app.periodic(cron="* * * * * */5", periodic_id="retry_stalled")  # croniter: seconds come last
@app.task(name="worker:retry_stalled_jobs", aliases=["retry_stalled_jobs"], queueing_lock="retry_stalled_jobs",
          pass_context=True)
async def retry_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> int:
    """Re-queue jobs whose worker stopped sending heartbeats (killed, crashed, lost its machine)."""
    manager = context.app.job_manager
    stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=get_settings().worker_stall_seconds)
    for job in stalled:
        log.warning("re-queueing stalled job %s (%s)", job.id, job.task_name)
        await manager.retry_job(job)
    return len(list(stalled))
