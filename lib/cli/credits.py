"""`python -m lib credits …`: a user's balance, and admin adjustments (`credits grant EMAIL N`)."""

from __future__ import annotations

import argparse
import uuid
from typing import Any

from lib.accounts import bootstrap, users
from lib.cli._common import Leaf, actor, add_actor, emit
from lib.core.settings import Settings
from lib.credits import ledger


def _balance_json(b: Any, email: str) -> dict[str, Any]:
    return {"email": email, "plan": b.plan, "quota": b.monthly_credits, "used": b.used_this_period,
            "held": b.held, "available": b.available, "period_start": b.period_start.isoformat()}


def cmd_credits(args: argparse.Namespace, settings: Settings) -> None:
    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        user = users.get_user(conn, email=args.email)
        data = _balance_json(ledger.balance(conn, user_id=user.id), user.email)
    emit(args, data, f"{data['email']}: {data['available']} available, {data['held']} held, "
                     f"{data['used']} used of {data['quota']} this month ({data['plan']})")


def cmd_credits_grant(args: argparse.Namespace, settings: Settings) -> None:
    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        admin = actor(conn, args.as_email)
        users.require_admin(admin)
        user = users.get_user(conn, email=args.email)
        key = args.key or f"adjust:{uuid.uuid4()}"
        recorded = ledger.adjust(conn, user_id=user.id, amount=args.amount, reason=args.reason, key=key,
                                 actor_id=admin.id)
        data = _balance_json(ledger.balance(conn, user_id=user.id), user.email) | {"replayed": not recorded}
    done = f"{args.amount:+d} credits for {user.email}"
    emit(args, data, f"{done}; {data['available']} available" if recorded else
         f"already recorded under key {key}: {done}; nothing changed, {data['available']} available")


def register(subparsers: Any, leaf: Leaf) -> None:
    """Add `credits` and `credits-grant` (what `main` turns `credits grant` into) to the studio's parser."""
    p = leaf(subparsers, "credits", cmd_credits, "show a user's credits (`credits grant EMAIL N` adjusts them)")
    p.add_argument("email")
    p = leaf(subparsers, "credits-grant", cmd_credits_grant, "admin adjustment (N may be negative), with a reason")
    p.add_argument("email")
    p.add_argument("amount", type=int)
    p.add_argument("--reason", required=True)
    add_actor(p, "the admin making the change")
    p.add_argument("--key", help="idempotency key (default: a new one)")
