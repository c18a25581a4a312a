"""Periodic credit work, as a procrastinate Blueprint: the monthly reset of every user's credits."""

from __future__ import annotations

import procrastinate

from lib.core import db
from lib.core.settings import get_settings
from lib.credits import ledger

blueprint = procrastinate.Blueprint()


@blueprint.periodic(cron="7 * * * *", periodic_id="monthly_resets")
@blueprint.task(name="monthly_resets", queueing_lock="monthly_resets")
def monthly_resets(timestamp: int) -> int:
    """Give every user whose balance belongs to an earlier month this month's credits (once each)."""
    engine = db.get_engine(get_settings())
    period = ledger.period_of(ledger.today())
    with engine.begin() as conn:
        due = ledger.users_due_for_reset(conn, period=period)
    for user_id in due:
        with engine.begin() as conn:
            ledger.monthly_reset(conn, user_id=user_id, period=period)
    return len(due)
