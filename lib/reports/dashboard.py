"""What the admin Reports page shows: the choices for its filters and how fresh the rollup is, then every
report for one set of filters with its headline figures.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from uuid import UUID

import pandas as pd
from sqlalchemy import Connection

from lib.accounts import users
from lib.accounts.users import User
from lib.reports import frames, rollup


@dataclass(frozen=True)
class Filters:
    """What an admin can filter the reports by (and grant credits to), and when the rollup was refreshed."""

    users: list[User]
    plans: tuple[str, ...]
    last_refreshed: dt.datetime | None  # None: never


@dataclass(frozen=True)
class Reports:
    """Every report for one set of filters, by name (`frames.REPORTS`)."""

    frames: dict[str, pd.DataFrame]

    @property
    def totals(self) -> dict[str, int]:
        """Credits used, images made and images failed in the range."""
        return frames.totals(self.frames)

    def without_revenue(self) -> Reports:
        """The same reports without subscription revenue: without billing there is none to show, only cost."""
        return Reports(frames={name: frame.drop(columns=[c for c in ("revenue_usd", "accounts") if c in frame])
                               if name == "cost_vs_revenue" else frame for name, frame in self.frames.items()})

    def has_figures(self, name: str) -> bool:
        """Whether a report has anything to show; cost against revenue has a row per month even when empty."""
        frame = self.frames[name]
        if frame.empty:
            return False
        if name == "cost_vs_revenue":
            return bool(frame["cost_usd"].any() or ("accounts" in frame and frame["accounts"].any()))
        return True


def filters(conn: Connection, *, actor: User) -> Filters:
    """Every user and plan to filter by, and the rollup's last refresh (admins only)."""
    return Filters(users=users.list_users(conn, actor=actor), plans=users.PLANS,
                   last_refreshed=rollup.last_refreshed(conn))


def reports(conn: Connection, *, date_from: dt.date, date_to: dt.date, plan: str | None = None,
            user_id: UUID | None = None) -> Reports:
    """Every report for these filters (InvalidInput for a bad range or plan)."""
    return Reports(frames=frames.all_reports(conn, date_from=date_from, date_to=date_to, plan=plan,
                                             user_id=user_id))
