"""Credits: an append-only ledger whose rows explain every balance, holds that can never overspend.

Each row carries the change it makes to `available` and `held`, so the ledger sums to the balance
(Postgres checks each row's deltas against its kind). Balances move only through one conditional
UPDATE that refuses to go below zero, backed by CHECK constraints. Every row has an idempotency key
chosen by the caller: replaying an operation changes nothing, and a key reused for a different request
(another user, amount or reason) is refused, never reported as done. An item's hold resolves exactly once,
captured when its image is made or released when it fails or is cancelled.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Connection

from lib.core.errors import InvalidInput, NotFound, StudioError
from lib.core.queries import q


class InsufficientCredits(StudioError):
    """The balance cannot cover a request; nothing was held."""


class IdempotencyConflict(InvalidInput):
    """An idempotency key was already used for a different request; nothing was changed."""


@dataclass(frozen=True)
class Balance:
    user_id: UUID
    plan: str
    monthly_credits: int
    max_batch_size: int
    allowed_models: list[str]
    allowed_sizes: list[str]
    available: int
    held: int
    used_this_period: int
    period_start: dt.date


def period_of(day: dt.date) -> dt.date:
    """The first day of the month a date belongs to (periods are calendar months, UTC)."""
    return day.replace(day=1)


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def balance(conn: Connection, *, user_id: UUID) -> Balance:
    row = conn.execute(q("balance"), {"user_id": str(user_id)}).one_or_none()
    if row is None:
        raise NotFound("no credit balance for this user")
    return Balance(user_id=row.user_id, plan=row.plan, monthly_credits=row.monthly_credits,
                   max_batch_size=row.max_batch_size, allowed_models=list(row.allowed_models),
                   allowed_sizes=list(row.allowed_sizes), available=row.available, held=row.held,
                   used_this_period=int(row.used_this_period), period_start=row.period_start)


def _record(
    conn: Connection, *, user_id: UUID, kind: str, amount: int, delta_available: int, delta_held: int, key: str,
    reason: str | None = None, job_id: UUID | None = None, difference_id: UUID | None = None,
    actor_id: UUID | None = None, same_request: tuple[str, ...] = (),
) -> bool:
    """Append a ledger row and move the balance with it; False when the key was already used.

    A used key replays only the request it was first used for: the fields named in `same_request` (and the
    kind) must match the original row, else IdempotencyConflict.
    """
    inserted = conn.execute(q("insert_credit_transaction"), {
        "user_id": str(user_id), "kind": kind, "amount": amount, "delta_available": delta_available,
        "delta_held": delta_held, "key": key, "reason": reason, "job_id": str(job_id) if job_id else None,
        "difference_id": str(difference_id) if difference_id else None,
        "actor_id": str(actor_id) if actor_id else None,
    }).first()
    if inserted is None:
        if same_request:
            _check_replay(conn, key=key, kind=kind, fields=same_request,
                          request={"user_id": user_id, "amount": amount, "reason": reason})
        return False
    moved = conn.execute(q("apply_credit_deltas"), {"user_id": str(user_id), "delta_available": delta_available,
                                                    "delta_held": delta_held}).first()
    if moved is None:
        current = balance(conn, user_id=user_id)
        raise InsufficientCredits(
            f"Not enough credits: this needs {max(-delta_available, 0)}, {current.available} available "
            f"({current.held} held by running batches).")
    return True


def _check_replay(conn: Connection, *, key: str, kind: str, fields: tuple[str, ...], request: dict[str, Any]) -> None:
    """Refuse a used key unless this is the request it was first used for."""
    original = conn.execute(q("credit_transaction_by_key"), {"key": key}).one()
    differs = ["kind"] if original.kind != kind else []
    differs += [name.removesuffix("_id") for name in fields if str(getattr(original, name)) != str(request[name])]
    if differs:
        raise IdempotencyConflict(f"key {key!r} was already used for a different request (different "
                                  f"{', '.join(differs)}); nothing was changed. Use a new key for a new request.")


# Balances are Postgres integers (at most 2,147,483,647); one grant or adjustment stays far below that.
MAX_CREDIT_CHANGE = 1_000_000


def _check_size(amount: int, what: str) -> None:
    if abs(amount) > MAX_CREDIT_CHANGE:
        raise InvalidInput(f"{what} of {amount:,} credits is more than the limit of {MAX_CREDIT_CHANGE:,} at once")


def grant(conn: Connection, *, user_id: UUID, amount: int, key: str, reason: str) -> bool:
    """Add credits (a paid invoice, a top-up); idempotent per key.

    A key names one outside event for one user (an invoice): a redelivery is a no-op even when the amount it
    computes changed since (the plan's quota was edited), but the key can never grant to another user.
    """
    if amount <= 0:
        raise InvalidInput("a grant must be positive")
    _check_size(amount, "a grant")
    return _record(conn, user_id=user_id, kind="grant", amount=amount, delta_available=amount, delta_held=0,
                   key=key, reason=reason, same_request=("user_id",))


def adjust(conn: Connection, *, user_id: UUID, amount: int, reason: str, key: str, actor_id: UUID | None) -> bool:
    """An admin's correction, positive or negative, always with a reason.

    False when this exact request was already recorded under the key; IdempotencyConflict when the key was
    used for another user, amount or reason.
    """
    if not reason.strip():
        raise InvalidInput("an adjustment needs a reason")
    if amount == 0:
        raise InvalidInput("an adjustment of 0 changes nothing")
    _check_size(amount, "an adjustment")
    return _record(conn, user_id=user_id, kind="adjustment", amount=amount, delta_available=amount, delta_held=0,
                   key=key, reason=reason.strip(), actor_id=actor_id, same_request=("user_id", "amount", "reason"))


def hold_items(conn: Connection, *, user_id: UUID, job_id: UUID, items: list[tuple[UUID, int]]) -> int:
    """Hold credits for every item of a batch, or raise InsufficientCredits and hold nothing.

    The whole amount moves in one conditional UPDATE first, so concurrent batches cannot overspend.
    """
    total = sum(credits for _, credits in items)
    if total <= 0:
        return 0
    moved = conn.execute(q("apply_credit_deltas"), {"user_id": str(user_id), "delta_available": -total,
                                                    "delta_held": total}).first()
    if moved is None:
        current = balance(conn, user_id=user_id)
        raise InsufficientCredits(
            f"Not enough credits: this batch needs {total}, {current.available} available "
            f"({current.held} held by running batches, plan {current.plan}: {current.monthly_credits} a month).")
    for difference_id, credits in items:
        inserted = conn.execute(q("insert_credit_transaction"), {
            "user_id": str(user_id), "kind": "hold", "amount": credits, "delta_available": -credits,
            "delta_held": credits, "key": f"hold:{difference_id}", "reason": None, "job_id": str(job_id),
            "difference_id": str(difference_id), "actor_id": None,
        }).first()
        if inserted is None:
            raise StudioError(f"item {difference_id} already has a hold")
    return total


def _resolve(conn: Connection, *, difference_id: UUID, kind: str) -> int:
    hold = conn.execute(q("hold_of_item"), {"difference_id": str(difference_id)}).one_or_none()
    if hold is None or hold.resolution is not None:
        return 0  # nothing held (free item) or already captured/released: resolving again is a no-op
    delta_available = hold.amount if kind == "release" else 0
    done = _record(conn, user_id=hold.user_id, kind=kind, amount=hold.amount, delta_available=delta_available,
                   delta_held=-hold.amount, key=f"{kind}:{difference_id}", job_id=hold.job_id,
                   difference_id=difference_id)
    return hold.amount if done else 0


def capture(conn: Connection, *, difference_id: UUID) -> int:
    """Charge an item's hold (its image was made); returns the credits charged, 0 if already resolved."""
    charged = _resolve(conn, difference_id=difference_id, kind="capture")
    if charged:
        conn.execute(q("set_item_credits"), {"difference_id": str(difference_id), "credits": charged})
    return charged


def release(conn: Connection, *, difference_id: UUID) -> int:
    """Give an item's hold back (it failed or was cancelled); returns the credits released."""
    return _resolve(conn, difference_id=difference_id, kind="release")


def monthly_reset(conn: Connection, *, user_id: UUID, period: dt.date) -> bool:
    """Set available to the plan's monthly credits for `period`, exactly once per user and period.

    Unused credits of the previous period expire; credits held by running batches stay held.
    A reset for a period older than the balance's own does nothing (a late or repeated run).
    """
    locked = conn.execute(q("lock_balance"), {"user_id": str(user_id)}).one_or_none()
    if locked is None:
        raise NotFound("no credit balance for this user")
    if locked.period_start > period:
        return False
    quota = balance(conn, user_id=user_id).monthly_credits
    delta = quota - locked.available
    done = _record(conn, user_id=user_id, kind="monthly_reset", amount=delta, delta_available=delta, delta_held=0,
                   key=f"reset:{user_id}:{period.isoformat()}", reason=f"monthly credits for {period:%Y-%m}")
    if done:
        conn.execute(q("set_period_start"), {"user_id": str(user_id), "period": period})
    return done


def users_due_for_reset(conn: Connection, *, period: dt.date) -> list[UUID]:
    return list(conn.execute(q("users_due_for_reset"), {"period": period}).scalars())


def price(conn: Connection, *, backend: str, model: str, image_size: str, offline_credits: int) -> int:
    """Credits one image costs."""
    if backend == "offline":
        return offline_credits
    credits = conn.execute(q("credit_price"), {"model": model, "image_size": image_size}).scalar()
    if credits is None:
        raise InvalidInput(f"{model} at {image_size} is not offered (no credit price)")
    return credits


def ledger(conn: Connection, *, user_id: UUID, limit: int = 200) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(q("ledger_of_user"), {"user_id": str(user_id), "limit": limit})]


def ledger_sums(conn: Connection, *, user_id: UUID) -> tuple[int, int]:
    row = conn.execute(q("ledger_sums"), {"user_id": str(user_id)}).one()
    return int(row.available), int(row.held)


def usage_by_day(conn: Connection, *, user_id: UUID, since: dt.date) -> list[tuple[dt.date, int]]:
    return [(r.day, int(r.credits)) for r in conn.execute(q("usage_by_day"), {"user_id": str(user_id),
                                                                              "since": since})]
