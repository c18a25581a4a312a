"""`python -m lib reports …`: the admin reports on the command line, the same numbers as the page.

    reports credits --from DATE --to DATE --as EMAIL [--plan P] [--user EMAIL] [--json]
    reports refresh [--since DATE] [--json]      (what the worker schedule runs)
"""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from lib.accounts import bootstrap, users
from lib.cli._common import Leaf, actor, add_actor, emit
from lib.core.settings import Settings
from lib.reports import frames as reports
from lib.reports import rollup


def _day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from None


def cmd_reports_credits(args: argparse.Namespace, settings: Settings) -> None:
    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        users.require_admin(actor(conn, args.as_email))
        user_id = users.get_user(conn, email=args.user).id if args.user else None
        frames = reports.all_reports(conn, date_from=args.date_from, date_to=args.date_to, plan=args.plan,
                                     user_id=user_id)
        refreshed = rollup.last_refreshed(conn)
    result = {"from": args.date_from.isoformat(), "to": args.date_to.isoformat(), "plan": args.plan,
              "user": args.user, "rollup_refreshed_at": refreshed.isoformat() if refreshed else None,
              **{name: reports.to_records(frame) for name, frame in frames.items()}}
    emit(args, result, "\n\n".join(f"{name}\n{frame.to_string(index=False)}" for name, frame in frames.items()))


def cmd_reports_refresh(args: argparse.Namespace, settings: Settings) -> None:
    engine = bootstrap.prepare_database(settings)
    with engine.begin() as conn:
        days = rollup.refresh_rollup(conn, since=args.since)
    emit(args, {"days": [d.isoformat() for d in days]}, f"recomputed {len(days)} day(s)")


def register(subparsers: Any, leaf: Leaf) -> None:
    """Add the `reports` commands to the CLI's subparsers, using its `leaf` helper (adds --json)."""
    group = subparsers.add_parser("reports", help="admin credit reports").add_subparsers(
        dest="reports_command", required=True)
    p = leaf(group, "credits", cmd_reports_credits, "every admin credit report for a date range (admins)")
    p.add_argument("--from", dest="date_from", type=_day, required=True, metavar="DATE")
    p.add_argument("--to", dest="date_to", type=_day, required=True, metavar="DATE")
    add_actor(p)
    p.add_argument("--plan", choices=users.PLANS)
    p.add_argument("--user", metavar="EMAIL", help="only this user's usage")
    p = leaf(group, "refresh", cmd_reports_refresh, "bring the report rollup up to date")
    p.add_argument("--since", type=_day, metavar="DATE", help="also recompute every day from this date on")
