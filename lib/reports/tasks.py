"""Periodic report work, as a procrastinate Blueprint: keep the reports' rollup current."""

from __future__ import annotations

import procrastinate

from lib.core import db
from lib.core.settings import get_settings
from lib.reports import rollup

blueprint = procrastinate.Blueprint()


@blueprint.periodic(cron="*/5 * * * *", periodic_id="refresh_rollup")
@blueprint.task(name="refresh_rollup", queueing_lock="refresh_rollup")
def refresh_rollup(timestamp: int) -> int:
    """Bring the admin reports' rollup up to date (only the days and months that changed)."""
    with db.get_engine(get_settings()).begin() as conn:
        return len(rollup.refresh_rollup(conn))
