"""`python -m lib billing …`: Stripe reconciliation and the webhook server, for staff and the worker.

Like every command they take `--json` and print one JSON document.
"""

from __future__ import annotations

import argparse
from typing import Any

from lib.accounts import bootstrap
from lib.api import webhook as webhook_app
from lib.billing import subscriptions as billing
from lib.cli._common import Leaf, emit
from lib.core.errors import ConfigError
from lib.core.settings import Settings


def cmd_reconcile(args: argparse.Namespace, settings: Settings) -> None:
    config = billing.config_from_settings(settings)
    if config is None:
        raise ConfigError("billing is not configured (set STRIPE_SECRET_KEY and the STRIPE_PRICE_* ids)")
    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        report = billing.reconcile(conn, billing.client_from_settings(settings), config=config)
    lines = [f"{r['user_id']}: {r.get('user_plan_before')} -> {r.get('user_plan_after')}" for r in report.repairs]
    emit(args, report.as_json(), "\n".join([f"checked {report.checked}, repaired {len(report.repairs)}", *lines]))


def cmd_webhook(args: argparse.Namespace, settings: Settings) -> None:
    webhook_app.serve(settings, args.port, host=args.host)


def register(subparsers: Any, leaf: Leaf) -> None:
    """Add the `billing` command group to the studio's parser."""
    group = subparsers.add_parser("billing", help="Stripe billing").add_subparsers(dest="billing_command",
                                                                                    required=True)
    leaf(group, "reconcile", cmd_reconcile, "repair subscriptions and plans that drifted from Stripe")
    p = leaf(group, "webhook", cmd_webhook, f"serve {webhook_app.WEBHOOK_PATH} and /healthz")
    p.add_argument("--port", type=int, default=None, help="default: STRIPE_WEBHOOK_PORT or 8502")
    p.add_argument("--host", default="127.0.0.1")
