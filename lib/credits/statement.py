"""A user's credit statement: the balance, what was used each day of this period, and the newest ledger rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Connection

from lib.credits import ledger


@dataclass(frozen=True)
class Statement:
    balance: ledger.Balance
    usage_by_day: list[tuple[dt.date, int]]  # credits used per day since the period started
    entries: list[dict[str, Any]]  # ledger rows, newest first


def statement(conn: Connection, *, user_id: UUID, limit: int = 500) -> Statement:
    """What the user's credits are now and how they got there (the `limit` newest ledger rows)."""
    balance = ledger.balance(conn, user_id=user_id)
    return Statement(balance=balance, usage_by_day=ledger.usage_by_day(conn, user_id=user_id,
                                                                        since=balance.period_start),
                     entries=ledger.ledger(conn, user_id=user_id, limit=limit))
