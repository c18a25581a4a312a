"""Operations work as a procrastinate Blueprint: evaluate the alarms every minute."""

from __future__ import annotations

import procrastinate

from lib.core import db
from lib.core.settings import get_settings
from lib.ops import alarms

blueprint = procrastinate.Blueprint()


@blueprint.periodic(cron="* * * * *", periodic_id="evaluate_alarms")
@blueprint.task(name="evaluate_alarms", queueing_lock="evaluate_alarms")
def evaluate_alarms(timestamp: int) -> int:
    """Read every health check, record the states, tell admins about each that turned; returns how many turned."""
    settings = get_settings()
    return len(alarms.evaluate(db.get_engine(settings), settings))
