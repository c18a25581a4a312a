"""Admin credit reports as DataFrames: usage, cost against revenue, top users, failures, latency.

Every report takes an inclusive UTC date range and optional plan and user filters, and reads the rollup
(`lib.reports.rollup`): whole calendar months inside the range from the monthly tables, the days around them from
the daily ones. `raw=True` computes the same numbers from the raw tables (benchmarks, checks).
An event counts under the plan its user had when it happened (`user_plan_history`).

Revenue is each account's plan price for every month it exists by the month's end (the plan it has
then), from `plans.price_usd_cents`: the studio records no Stripe invoices, and this is what the plans
promise. The rollup counts the current month's accounts as of its last refresh. Cost and revenue are
compared over whole calendar months touching the range. Latency
percentiles from the rollup come from histograms whose buckets are 10 % wide: within 4.9 % of the exact
nearest-rank value that `raw=True` returns.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any
from uuid import UUID, uuid4

import pandas as pd
from sqlalchemy import Connection

from lib.accounts import users
from lib.accounts.users import User
from lib.core.errors import InvalidInput
from lib.core.queries import q
from lib.credits import ledger as credits
from lib.reports import rollup

REPORTS: tuple[str, ...] = ("credits_by_day", "cost_vs_revenue", "top_users", "failure_rates", "latency",
                            "gemini_spend", "cost_per_approved")
SAFETY_KINDS: tuple[str, ...] = ("safety", "prompt_blocked")
MAX_DAYS = 3 * 366
# Reports cover the years the studio can have data for; month arithmetic past year 9999 would overflow.
FIRST_DAY, LAST_DAY = dt.date(1970, 1, 1), dt.date(2999, 12, 31)


def _params(date_from: dt.date, date_to: dt.date, plan: str | None, user_id: UUID | None) -> dict[str, Any]:
    if not (FIRST_DAY <= date_from <= LAST_DAY and FIRST_DAY <= date_to <= LAST_DAY):
        raise InvalidInput(f"choose dates from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}")
    if date_from > date_to:
        raise InvalidInput("the start of the range is after its end")
    if (date_to - date_from).days > MAX_DAYS:
        raise InvalidInput("choose at most three years")
    if plan is not None and plan not in users.PLANS:
        raise InvalidInput(f"plan must be one of {', '.join(users.PLANS)}")
    whole_months, edge_days = split_range(date_from, date_to)
    return {"date_from": date_from, "date_to": date_to, "whole_months": whole_months, "edge_days": edge_days,
            "plan": plan, "user_id": str(user_id) if user_id else None}


def split_range(date_from: dt.date, date_to: dt.date) -> tuple[list[dt.date], list[dt.date]]:
    """The calendar months wholly inside the range (their first days), and the range's other days."""
    months = [m for m in rollup.months_between(date_from, date_to)
              if m >= date_from and (m + dt.timedelta(days=31)).replace(day=1) <= date_to + dt.timedelta(days=1)]
    days = [date_from + dt.timedelta(days=i) for i in range((date_to - date_from).days + 1)]
    return months, [d for d in days if d.replace(day=1) not in months]


def _frame(conn: Connection, name: str, params: dict[str, Any]) -> pd.DataFrame:
    result = conn.execute(q(name), params)
    # Plain tuples: pandas builds a frame from SQLAlchemy Row objects about ten times slower.
    return pd.DataFrame([tuple(row) for row in result], columns=list(result.keys()))


def credits_by_day(conn: Connection, *, date_from: dt.date, date_to: dt.date, plan: str | None = None,
                   user_id: UUID | None = None, raw: bool = False) -> pd.DataFrame:
    """Credits captured per day, plan and model (model is '' for captures without a job)."""
    params = _params(date_from, date_to, plan, user_id)
    return _frame(conn, "raw_credits_by_day" if raw else "report_credits_by_day", params)


def cost_vs_revenue(conn: Connection, *, date_from: dt.date, date_to: dt.date, plan: str | None = None,
                    user_id: UUID | None = None, raw: bool = False) -> pd.DataFrame:
    """Per month: Gemini cost, subscription revenue, accounts counted and the margin, in USD."""
    params = {**_params(date_from, date_to, plan, user_id), "months": rollup.months_between(date_from, date_to)}
    frame = _frame(conn, "raw_cost_vs_revenue" if raw else "report_cost_vs_revenue", params)
    # Without rows every column is "object", which Plotly refuses to chart side by side.
    numeric = [c for c in ("accounts", "revenue_usd", "cost_usd", "margin_usd") if c in frame.columns]
    return frame.astype({c: "int64" if c == "accounts" else "float64" for c in numeric})


def spend_by_model_size(conn: Connection, *, date_from: dt.date, date_to: dt.date, plan: str | None = None,
                        user_id: UUID | None = None) -> pd.DataFrame:
    """Per backend, model and image size: images done and failed, credits captured and cost in USD."""
    return _frame(conn, "report_spend_by_model_size", _params(date_from, date_to, plan, user_id))


def top_users(conn: Connection, *, date_from: dt.date, date_to: dt.date, plan: str | None = None,
              user_id: UUID | None = None, limit: int = 20, raw: bool = False) -> pd.DataFrame:
    """The users who spent the most credits in the range, with images made and their cost."""
    params = {**_params(date_from, date_to, plan, user_id), "limit": limit}
    return _frame(conn, "raw_top_users" if raw else "report_top_users", params)


def failure_rates(conn: Connection, *, date_from: dt.date, date_to: dt.date, plan: str | None = None,
                  user_id: UUID | None = None, raw: bool = False) -> pd.DataFrame:
    """Per model: finished images done and failed, safety blocks and the two rates."""
    params = _params(date_from, date_to, plan, user_id)
    return _frame(conn, "raw_failure_rates" if raw else "report_failure_rates", params)


def latency(conn: Connection, *, date_from: dt.date, date_to: dt.date, plan: str | None = None,
            user_id: UUID | None = None, raw: bool = False) -> pd.DataFrame:
    """Per model: p50 and p95 generation time in milliseconds of done images."""
    params = _params(date_from, date_to, plan, user_id)
    # Two rollup queries: a UNION ALL of both paths costs its untaken branches a few tenths of a millisecond.
    name = "raw_latency" if raw else "report_latency_of_user" if user_id else "report_latency"
    return _frame(conn, name, params)


def gemini_spend(conn: Connection, *, date_from: dt.date, date_to: dt.date, plan: str | None = None,
                 user_id: UUID | None = None) -> pd.DataFrame:
    """Per day and line (standard, economy, trial): images made, Gemini calls and USD; trials are the notebook's
    prompt trials, which hold no credits but cost money."""
    return _frame(conn, "report_gemini_spend", _params(date_from, date_to, plan, user_id))


def cost_per_approved(conn: Connection, *, date_from: dt.date, date_to: dt.date, plan: str | None = None,
                      user_id: UUID | None = None) -> pd.DataFrame:
    """Per month, model and plan: USD and Gemini calls per approved image (every attempt and failure counted)."""
    return _frame(conn, "report_cost_per_approved", _params(date_from, date_to, plan, user_id))


def all_reports(conn: Connection, *, date_from: dt.date, date_to: dt.date, plan: str | None = None,
                user_id: UUID | None = None) -> dict[str, pd.DataFrame]:
    """Every report for one set of filters, by name (what the page and the CLI show)."""
    kwargs: dict[str, Any] = {"date_from": date_from, "date_to": date_to, "plan": plan, "user_id": user_id}
    return {"credits_by_day": credits_by_day(conn, **kwargs), "cost_vs_revenue": cost_vs_revenue(conn, **kwargs),
            "top_users": top_users(conn, **kwargs), "failure_rates": failure_rates(conn, **kwargs),
            "latency": latency(conn, **kwargs), "gemini_spend": gemini_spend(conn, **kwargs),
            "cost_per_approved": cost_per_approved(conn, **kwargs)}


def totals(data: dict[str, pd.DataFrame]) -> dict[str, int]:
    """Headline figures of `all_reports` output: credits used, images made and images failed in the range."""
    rates = data["failure_rates"]
    return {"credits": int(data["credits_by_day"]["credits"].sum()) if len(data["credits_by_day"]) else 0,
            "images": int(rates["done"].sum()) if len(rates) else 0,
            "failed": int(rates["failed"].sum()) if len(rates) else 0}


def _plain(value: Any) -> Any:
    if isinstance(value, pd.Timestamp | dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    return value


def to_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A report as JSON-ready rows: ISO dates, plain ints, floats rounded to 6 places."""
    return [{str(k): _plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def new_adjustment_key() -> str:
    """An idempotency key for one admin adjustment (keep it across retries of the same form)."""
    return f"admin-adjust:{uuid4()}"


def adjust_credits(conn: Connection, *, actor: User, user_id: UUID, amount: int, reason: str, key: str) -> bool:
    """An admin grants (amount > 0) or takes back credits, with a reason kept in the ledger.

    Returns False when this key was already used (a repeated submit changes nothing).
    """
    users.require_admin(actor)
    return credits.adjust(conn, user_id=user_id, amount=amount, reason=reason, key=key, actor_id=actor.id)
