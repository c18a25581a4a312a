"""Notification delivery as a procrastinate Blueprint: send due emails and webhook events every 15 seconds."""

from __future__ import annotations

import procrastinate

from lib.core import db
from lib.core.settings import get_settings
from lib.notifications import delivery

blueprint = procrastinate.Blueprint()


@blueprint.periodic(cron="* * * * * */15", periodic_id="deliver_notifications")  # croniter: seconds come last
@blueprint.task(name="deliver_notifications", queueing_lock="deliver_notifications")
def deliver_notifications(timestamp: int) -> int:
    """Send what is due; a failure waits for its retry time, and never touches the batch it reports."""
    settings = get_settings()
    engine = db.get_engine(settings)
    return delivery.deliver_emails(engine, settings) + delivery.deliver_webhooks(engine, settings)
