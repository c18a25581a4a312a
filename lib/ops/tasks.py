"""Operations work as a procrastinate Blueprint: evaluate the alarms every minute, expire raw answers daily."""

from __future__ import annotations

import procrastinate

from lib.core import db
from lib.core.settings import get_settings
from lib.core.storage import make_store
from lib.ops import alarms, retention

blueprint = procrastinate.Blueprint()


@blueprint.periodic(cron="* * * * *", periodic_id="evaluate_alarms")
@blueprint.task(name="evaluate_alarms", queueing_lock="evaluate_alarms")
def evaluate_alarms(timestamp: int) -> int:
    """Read every health check, record the states, tell admins about each that turned; returns how many turned."""
    settings = get_settings()
    return len(alarms.evaluate(db.get_engine(settings), settings))


@blueprint.periodic(cron="17 3 * * *", periodic_id="expire_raw_answers")
@blueprint.task(name="expire_raw_answers", queueing_lock="expire_raw_answers")
def expire_raw_answers(timestamp: int) -> int:
    """Delete raw model answers older than RAW_RETENTION_DAYS; returns how many."""
    settings = get_settings()
    return retention.expire_raw(db.get_engine(settings), make_store(settings), days=settings.raw_retention_days)
