"""Synthetic usage for report benchmarks and tests: accounts, jobs, items and a ledger, set-based in SQL.

A million ledger rows take seconds because every table is filled by one INSERT … SELECT over
generate_series. Runs are repeatable for a given `seed` and `end`. Never run it on a real database.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy import Connection, TextClause, text

from lib.core.errors import InvalidInput
from lib.core.queries import parse

_SQL = Path(__file__).with_name("report_seed.sql")  # test support's own named queries, not the studio's

log = logging.getLogger(__name__)
ITEMS_PER_JOB = 10


@cache
def _queries() -> dict[str, str]:
    return parse(_SQL.read_text())


def q(name: str) -> TextClause:
    """A named query of the seeder."""
    return text(_queries()[name])


@dataclass(frozen=True)
class Seeded:
    prefix: str
    users: int
    jobs: int
    variants: int
    ledger_rows: int
    start: dt.datetime
    end: dt.datetime


def seed_usage(
    conn: Connection, *, users: int, ledger_rows: int, variants: int, days: float = 365,
    end: dt.datetime | None = None, prefix: str = "seed-", seed: float = 0.42,
) -> Seeded:
    """Create `users` accounts with `variants` items and exactly `ledger_rows` ledger rows in `days` days."""
    if ledger_rows < 2 * variants:
        raise InvalidInput("every item has a hold and its resolution: ledger_rows must be at least 2 × variants")
    end = end or dt.datetime.now(dt.UTC)
    start = end - dt.timedelta(days=days)
    rest = ledger_rows - 2 * variants
    pairs = rest * 4 // 10  # 80 % of the remaining rows are hold/capture pairs
    jobs = max(1, -(-variants // ITEMS_PER_JOB))
    base = {"prefix": prefix, "start": start, "end": end}
    conn.execute(q("seed_random"), {"seed": seed})
    conn.execute(q("seed_users"), {**base, "users": users})
    conn.execute(q("seed_plan_changes"), base)
    conn.execute(q("seed_balances"), base)
    conn.execute(q("seed_characters"), base)
    conn.execute(q("seed_jobs"), {**base, "jobs": jobs})
    conn.execute(q("seed_variants"), {**base, "variants": variants})
    conn.execute(q("seed_item_ledger"), base)
    conn.execute(q("seed_other_ledger"), {**base, "pairs": pairs, "singles": rest - 2 * pairs})
    log.info("seeded %d users, %d jobs, %d items, %d ledger rows", users, jobs, variants, ledger_rows)
    return Seeded(prefix=prefix, users=users, jobs=jobs, variants=variants, ledger_rows=ledger_rows,
                  start=start, end=end)
