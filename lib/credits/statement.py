"""A user's credit statement: the balance, what was used each day of this period, and the newest ledger rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from sqlalchemy import Connection

from lib.core.queries import q
from lib.credits import ledger


@dataclass(frozen=True)
class Line:
    """One line of the ledger as a person reads it: a whole batch, or one grant, reset or adjustment."""

    when: dt.datetime
    what: str
    available: int  # the change to available credits
    held: int  # the change to credits held by running batches


@dataclass(frozen=True)
class Statement:
    balance: ledger.Balance
    usage_by_day: list[tuple[dt.date, int]]  # credits used per day since the period started
    entries: list[dict[str, Any]]  # ledger rows, newest first (the CSV download)
    lines: list[Line] = field(default_factory=list)  # the same ledger for people, newest first


def _what(row: Any) -> str:
    """A ledger line in words (the reasons people gave are kept as they wrote them)."""
    if row.kind == "monthly_reset":
        return (row.reason or "monthly credits").capitalize()
    if row.kind in ("grant", "adjustment"):
        words = "Credits added" if row.kind == "grant" else "Adjusted by an admin"
        return f"{words}: {row.reason}" if row.reason else words
    if row.kind != "batch":  # a hold, charge or refund whose batch went with its deleted character
        return {"hold": "Held", "capture": "Charged", "release": "Refunded"}.get(row.kind, row.kind) + (
            " for an image of a deleted character")
    parts = [f"{row.charged} charged"] if row.charged else []
    if row.refunded:
        parts.append(f"{row.refunded} refunded")
    if (still := row.held - row.charged - row.refunded) > 0:
        parts.append(f"{still} still held")
    images = f"{row.images} image{'s' if row.images != 1 else ''}"
    return f"{row.character_name}: batch of {images}" + (f" ({', '.join(parts)})" if parts else "")


def ledger_lines(conn: Connection, *, user_id: UUID, limit: int = 200) -> list[Line]:
    """The ledger in words: one line per batch with its items folded, reasons spelled out, newest first."""
    rows = conn.execute(q("ledger_lines"), {"user_id": str(user_id), "limit": limit})
    return [Line(when=r.created_at, what=_what(r), available=int(r.delta_available), held=int(r.delta_held))
            for r in rows]


def statement(conn: Connection, *, user_id: UUID, limit: int = 500) -> Statement:
    """What the user's credits are now and how they got there (the `limit` newest ledger rows)."""
    balance = ledger.balance(conn, user_id=user_id)
    return Statement(balance=balance, usage_by_day=ledger.usage_by_day(conn, user_id=user_id,
                                                                        since=balance.period_start),
                     entries=ledger.ledger(conn, user_id=user_id, limit=limit),
                     lines=ledger_lines(conn, user_id=user_id, limit=limit))
