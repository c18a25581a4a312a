"""The usage rollup behind the admin reports, kept current by `refresh_rollup`.

Each refresh recomputes whole UTC days: those with ledger rows, finished images or plan changes at or
after the last watermark minus an overlap; then the calendar months of those days (monthly sums of the
daily rows), and the revenue months from the first one a plan change or a newly recorded account touches
up to the current one. The overlap covers transactions that started before the
watermark but committed after the previous refresh read the tables. A transaction-scoped advisory lock
serialises refreshes, so running it twice or from two workers at once is safe; recomputing a day
replaces its rows, so a refresh is idempotent. The caller owns the transaction.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import Connection

from lib.core.queries import q

log = logging.getLogger(__name__)

OVERLAP = dt.timedelta(hours=1)
_LOCK_ID = 0x6D69796172  # "miyar": rollup refreshes
_BEGINNING = dt.datetime.min.replace(tzinfo=dt.UTC)


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def days_to_refresh(conn: Connection, *, since: dt.datetime) -> list[dt.date]:
    """Days with events at or after `since`, plus rolled-up days from that date on."""
    return [r.day for r in conn.execute(q("rollup_days_touched"), {"since": since})]


def months_between(first: dt.date, last: dt.date) -> list[dt.date]:
    """The first days of the calendar months from `first`'s to `last`'s, inclusive."""
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + dt.timedelta(days=31)).replace(day=1)
    return months


def recompute_days(conn: Connection, *, days: list[dt.date]) -> None:
    """Replace the rollup rows of `days`, and of their months, with fresh sums over the raw tables."""
    if not days:
        return
    params = {"days": days}
    conn.execute(q("rollup_clear_days"), params)
    conn.execute(q("rollup_insert_usage"), params)
    conn.execute(q("rollup_insert_latency"), params)
    conn.execute(q("rollup_insert_plan_totals"), params)
    months = {"months": sorted({day.replace(day=1) for day in days})}
    conn.execute(q("rollup_clear_months"), months)
    conn.execute(q("rollup_insert_months"), months)


def recompute_revenue(conn: Connection, *, since: dt.datetime, now: dt.datetime) -> list[dt.date]:
    """Recount the accounts per plan of every month whose revenue may have changed since `since`."""
    first = conn.execute(q("rollup_revenue_from"), {"since": since}).scalar_one()
    if first is None:
        return []
    months = {"months": months_between(first, now.astimezone(dt.UTC).date())}
    conn.execute(q("rollup_clear_revenue"), months)
    conn.execute(q("rollup_insert_revenue"), months)
    return months["months"]


def refresh_rollup(conn: Connection, *, since: dt.date | None = None,
                   overlap: dt.timedelta = OVERLAP) -> list[dt.date]:
    """Bring the rollup up to date; returns the days recomputed.

    `since` forces every day from that date on to be recomputed (after backdated corrections or a bulk
    import); without it only days touched since the watermark are. The first refresh rebuilds everything.
    """
    conn.execute(q("rollup_lock"), {"lock_id": _LOCK_ID})
    state = conn.execute(q("rollup_state")).one()
    started = conn.execute(q("rollup_now")).scalar_one()
    start = _BEGINNING if state.watermark is None else state.watermark - overlap
    if since is not None:
        start = min(start, _start_of(since))  # never skip what the watermark still owes
    days = days_to_refresh(conn, since=start)
    recompute_days(conn, days=days)
    months = recompute_revenue(conn, since=start, now=started)
    conn.execute(q("rollup_set_watermark"), {"watermark": started})
    log.info("rollup refreshed: %d day(s) and %d revenue month(s) from %s", len(days), len(months),
             start.isoformat())
    return days


def rebuild_rollup(conn: Connection) -> list[dt.date]:
    """Recompute every day from the raw tables."""
    return refresh_rollup(conn, since=dt.date.min)


def last_refreshed(conn: Connection) -> dt.datetime | None:
    """When the rollup was last refreshed (None: never)."""
    return conn.execute(q("rollup_state")).one().refreshed_at
