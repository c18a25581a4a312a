"""Periodic billing work, as a procrastinate Blueprint: repair drift from Stripe."""

from __future__ import annotations

import procrastinate

from lib.billing import subscriptions
from lib.core import db
from lib.core.settings import get_settings

blueprint = procrastinate.Blueprint()


@blueprint.periodic(cron="17 * * * *", periodic_id="billing_reconcile")
@blueprint.task(name="billing_reconcile", queueing_lock="billing_reconcile")
def billing_reconcile(timestamp: int) -> str:
    """Repair subscriptions and plans that drifted from Stripe (when billing is configured)."""
    settings = get_settings()
    config = subscriptions.config_from_settings(settings)
    if config is None:
        return "billing is not configured"
    with db.get_engine(settings).begin() as conn:
        client = subscriptions.client_from_settings(settings)
        return str(subscriptions.reconcile(conn, client, config=config).as_json())
