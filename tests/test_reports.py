"""Admin reports: every figure equals a brute-force recomputation in Python over the raw rows; the rollup
refreshes incrementally to what a full rebuild gives, idempotently and safely under concurrency."""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, text

from devtools.report_seed import seed_usage
from lib.accounts import users
from lib.core.errors import InvalidInput, PermissionDenied
from lib.credits import ledger
from lib.reports import dashboard, rollup
from lib.reports import frames as reports
from tests.conftest import PLAN_LEVEL_TABLES


def latency_bucket(ms: float) -> int:
    """The histogram bucket of a latency (the same rule as SQL `usage_latency_bucket`)."""
    return 0 if ms < 50 else min(math.floor(math.log(ms / 50) / math.log(1.1)) + 1, 199)


def bucket_ms(bucket: int) -> float:
    """The latency a bucket stands for: its geometric middle (SQL `usage_latency_bucket_ms`)."""
    return 25.0 if bucket == 0 else 50 * 1.1 ** (bucket - 0.5)

END = dt.datetime(2025, 6, 20, 12, 0, tzinfo=dt.UTC)
ROLLUP_TABLES = ("usage_daily", "usage_daily_plan", "usage_latency_daily", "usage_latency_daily_plan",
                 "usage_latency_daily_total", "usage_monthly", "usage_monthly_plan", "usage_latency_monthly",
                 "usage_latency_monthly_plan", "revenue_monthly")
INF = dt.datetime.min.replace(tzinfo=dt.UTC)


# ---- brute force over the raw rows -------------------------------------------------------------------------

class Raw:
    """Every raw row the reports summarise, read once, with the plan-at-an-instant rule."""

    def __init__(self, conn: Connection) -> None:
        self.now = conn.execute(text("SELECT now()")).scalar_one()
        self.ledger = conn.execute(text(
            "SELECT c.user_id, c.kind, c.amount, c.created_at, coalesce(j.model, '') AS model "
            "FROM credit_transactions c LEFT JOIN generation_jobs j ON j.id = c.job_id")).all()
        self.items = conn.execute(text(
            "SELECT j.user_id, j.model, d.status, d.failure_kind, d.cost_usd, d.started_at, d.finished_at "
            "FROM differences d JOIN generation_jobs j ON j.id = d.job_id")).all()
        self.users = {r.id: r for r in conn.execute(text("SELECT id, email, plan, created_at FROM users"))}
        self.prices = dict(conn.execute(text("SELECT key, price_usd_cents FROM plans")).all())
        self.history: dict[Any, list[tuple[dt.datetime, str]]] = defaultdict(list)
        for r in conn.execute(text("SELECT user_id, plan, CASE WHEN valid_from > '-infinity' THEN valid_from END "
                                   "AS valid_from FROM user_plan_history")):
            self.history[r.user_id].append((r.valid_from or INF, r.plan))
        for changes in self.history.values():
            changes.sort()

    def plan_at(self, user_id: Any, at: dt.datetime, *, strict: bool = False) -> str:
        plans = [p for since, p in self.history[user_id] if (since < at if strict else since <= at)]
        return plans[-1]

    def finished(self) -> list[Any]:
        return [i for i in self.items if i.status in ("done", "failed") and i.finished_at is not None]


def day_of(at: dt.datetime) -> dt.date:
    return at.astimezone(dt.UTC).date()


def month_of(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def keep(raw: Raw, user_id: Any, at: dt.datetime, f: dict[str, Any]) -> bool:
    return ((f["user_id"] is None or user_id == f["user_id"])
            and (f["plan"] is None or raw.plan_at(user_id, at) == f["plan"]))


def expect_credits_by_day(raw: Raw, f: dict[str, Any]) -> list[dict[str, Any]]:
    sums: dict[tuple, int] = defaultdict(int)
    for r in raw.ledger:
        if r.kind == "capture" and f["date_from"] <= day_of(r.created_at) <= f["date_to"] and keep(raw, r.user_id,
                                                                                                    r.created_at, f):
            sums[(day_of(r.created_at).isoformat(), raw.plan_at(r.user_id, r.created_at), r.model)] += r.amount
    return [{"day": d, "plan": p, "model": m, "credits": c} for (d, p, m), c in sorted(sums.items()) if c]


def expect_cost_vs_revenue(raw: Raw, f: dict[str, Any]) -> list[dict[str, Any]]:
    first, last = month_of(f["date_from"]), month_of(f["date_to"])
    cost: dict[dt.date, Decimal] = defaultdict(Decimal)
    for i in raw.finished():
        month = month_of(day_of(i.finished_at))
        if first <= month <= last and keep(raw, i.user_id, i.finished_at, f):
            cost[month] += i.cost_usd
    rows: dict[dt.date, dict[str, Any]] = {m: {"accounts": 0, "revenue_usd": 0.0} for m, c in cost.items() if c}
    month = first
    while month <= min(last, month_of(raw.now.date())):
        until = min(dt.datetime.combine(next_month(month), dt.time(), tzinfo=dt.UTC), raw.now)
        paying = [u for u in raw.users.values() if u.created_at < until
                  and (f["user_id"] is None or u.id == f["user_id"])
                  and (f["plan"] is None or raw.plan_at(u.id, until, strict=True) == f["plan"])]
        rows[month] = {"accounts": len(paying),
                       "revenue_usd": sum(raw.prices[raw.plan_at(u.id, until, strict=True)] for u in paying) / 100}
        month = next_month(month)
    return [{"month": m.isoformat(), **v, "cost_usd": float(cost[m]),
             "margin_usd": round(v["revenue_usd"] - float(cost[m]), 4)} for m, v in sorted(rows.items())]


def expect_top_users(raw: Raw, f: dict[str, Any]) -> list[dict[str, Any]]:
    spent: dict[Any, list] = defaultdict(lambda: [0, 0, Decimal(0)])
    for r in raw.ledger:
        if r.kind == "capture" and f["date_from"] <= day_of(r.created_at) <= f["date_to"] and keep(raw, r.user_id,
                                                                                                    r.created_at, f):
            spent[r.user_id][0] += r.amount
    for i in raw.finished():
        if f["date_from"] <= day_of(i.finished_at) <= f["date_to"] and keep(raw, i.user_id, i.finished_at, f):
            spent[i.user_id][1] += i.status == "done"
            spent[i.user_id][2] += i.cost_usd
    rows = [{"user_id": str(u), "email": raw.users[u].email, "current_plan": raw.users[u].plan, "credits": c,
             "images": n, "cost_usd": float(usd)} for u, (c, n, usd) in spent.items() if c or n or usd]
    return sorted(rows, key=lambda r: (-r["credits"], -r["cost_usd"], r["email"]))[:20]


def expect_failure_rates(raw: Raw, f: dict[str, Any]) -> list[dict[str, Any]]:
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for i in raw.finished():
        if f["date_from"] <= day_of(i.finished_at) <= f["date_to"] and keep(raw, i.user_id, i.finished_at, f):
            c = counts[i.model]
            c[0 if i.status == "done" else 1] += 1
            c[2] += i.failure_kind in reports.SAFETY_KINDS
    return [{"model": m, "done": d, "failed": x, "safety_blocks": s, "failure_rate": x / (d + x),
             "safety_rate": s / (d + x)} for m, (d, x, s) in sorted(counts.items())]


def latencies(raw: Raw, f: dict[str, Any]) -> dict[str, list[float]]:
    found: dict[str, list[float]] = defaultdict(list)
    for i in raw.finished():
        if (i.status == "done" and i.started_at is not None and f["date_from"] <= day_of(i.finished_at) <= f["date_to"]
                and keep(raw, i.user_id, i.finished_at, f)):
            found[i.model].append((i.finished_at - i.started_at).total_seconds() * 1000)
    return found


def nearest_rank(values: list[float], p: str) -> float:
    return sorted(values)[math.ceil(Decimal(p) * len(values)) - 1]


def expect_latency(raw: Raw, f: dict[str, Any], *, exact: bool) -> list[dict[str, Any]]:
    rows = []
    for model, ms in sorted(latencies(raw, f).items()):
        if exact:
            p50, p95 = nearest_rank(ms, "0.5"), nearest_rank(ms, "0.95")
        else:
            buckets = [float(latency_bucket(x)) for x in ms]
            p50, p95 = (bucket_ms(int(nearest_rank(buckets, p))) for p in ("0.5", "0.95"))
        rows.append({"model": model, "images": len(ms), "p50_ms": p50, "p95_ms": p95})
    return rows


def assert_rows(actual: list[dict[str, Any]], expected: list[dict[str, Any]], *, rel: float = 1e-9) -> None:
    assert [list(r) for r in actual] == [list(r) for r in expected][:len(actual)] or not actual
    assert len(actual) == len(expected), (actual, expected)
    for got, want in zip(actual, expected, strict=True):
        for key, value in want.items():
            if isinstance(value, float):
                assert math.isclose(got[key], value, rel_tol=rel, abs_tol=1e-6), (key, got, want)
            else:
                assert got[key] == value, (key, got, want)


# ---- fixtures ---------------------------------------------------------------------------------------------

@pytest.fixture
def seeded(conn: Connection):
    # Committed tests elsewhere may have moved the watermark past this seed's (older) timestamps.
    conn.execute(text("UPDATE usage_rollup_state SET watermark = NULL, refreshed_at = NULL"))
    made = seed_usage(conn, users=25, ledger_rows=1400, variants=400, days=75, end=END, seed=0.17)
    rollup.refresh_rollup(conn)
    return made


def snapshot(conn: Connection) -> dict[str, list[tuple]]:
    return {t: sorted(tuple(r) for r in conn.execute(text(f"SELECT * FROM {t}"))) for t in ROLLUP_TABLES}


def heavy_user(conn: Connection) -> Any:
    return conn.execute(text("SELECT user_id FROM credit_transactions WHERE kind = 'capture' "
                             "GROUP BY user_id ORDER BY sum(amount) DESC LIMIT 1")).scalar_one()


# ---- reports against brute force --------------------------------------------------------------------------

@pytest.mark.parametrize("plan,by_user,span", [
    (None, False, "all"), ("pro", False, "part"), (None, True, "part"), ("basic", True, "all"), ("free", False, "all"),
])
def test_every_report_equals_brute_force(conn, seeded, plan: str | None, by_user: bool, span: str) -> None:
    start, end = seeded.start.date(), seeded.end.date()
    if span == "part":
        start, end = start + dt.timedelta(days=9), end - dt.timedelta(days=20)
    f = {"date_from": start, "date_to": end, "plan": plan, "user_id": heavy_user(conn) if by_user else None}
    raw = Raw(conn)
    assert raw.finished() and len(raw.ledger) == 1400  # nothing but the seed
    expected = {"credits_by_day": expect_credits_by_day(raw, f), "cost_vs_revenue": expect_cost_vs_revenue(raw, f),
                "top_users": expect_top_users(raw, f), "failure_rates": expect_failure_rates(raw, f)}
    assert expected["credits_by_day"] and expected["failure_rates"]
    for is_raw in (False, True):
        for name, rows in expected.items():
            frame = getattr(reports, name)(conn, **f, raw=is_raw)
            assert_rows(reports.to_records(frame), rows)
    assert_rows(reports.to_records(reports.latency(conn, **f)), expect_latency(raw, f, exact=False))
    exact = expect_latency(raw, f, exact=True)
    assert_rows(reports.to_records(reports.latency(conn, **f, raw=True)), exact)
    assert_rows(reports.to_records(reports.latency(conn, **f)), exact, rel=0.049)  # the histogram's promise


def test_seed_has_what_the_reports_need(conn, seeded) -> None:
    kinds = dict(conn.execute(text("SELECT kind, count(*) FROM credit_transactions GROUP BY kind")).all())
    assert {"hold", "capture", "release", "grant", "monthly_reset", "adjustment"} <= set(kinds)
    changes = conn.execute(text("SELECT count(*) FROM user_plan_history WHERE valid_from > '-infinity'")).scalar()
    assert changes > 0  # plans changed inside the window, so attribution by instant matters
    blocked = conn.execute(text("SELECT count(*) FROM differences WHERE failure_kind = 'safety'")).scalar()
    assert blocked > 0


def test_all_reports_and_records_are_json_ready(conn, seeded) -> None:
    frames = reports.all_reports(conn, date_from=seeded.start.date(), date_to=seeded.end.date())
    assert list(frames) == list(reports.REPORTS)
    records = reports.to_records(frames["credits_by_day"])
    assert isinstance(records[0]["day"], str) and isinstance(records[0]["credits"], int)


@given(st.dates(dt.date(2020, 1, 1), dt.date(2030, 1, 1)), st.integers(0, reports.MAX_DAYS))
def test_whole_months_and_edge_days_cover_the_range_once(first: dt.date, span: int) -> None:
    last = first + dt.timedelta(days=span)
    months, days = reports.split_range(first, last)
    covered = list(days)
    for month in months:
        assert month.day == 1
        covered += [month + dt.timedelta(days=i) for i in range((next_month(month) - month).days)]
    assert sorted(covered) == [first + dt.timedelta(days=i) for i in range(span + 1)]
    assert len(days) <= 62


def test_totals_add_up_the_reports_and_an_empty_range_is_zero(conn, seeded) -> None:
    frames = reports.all_reports(conn, date_from=seeded.start.date(), date_to=seeded.end.date())
    assert reports.totals(frames) == {"credits": int(frames["credits_by_day"]["credits"].sum()),
                                      "images": int(frames["failure_rates"]["done"].sum()),
                                      "failed": int(frames["failure_rates"]["failed"].sum())}
    empty = reports.all_reports(conn, date_from=dt.date(1999, 1, 1), date_to=dt.date(1999, 1, 2))
    assert reports.totals(empty) == {"credits": 0, "images": 0, "failed": 0}


def test_the_dashboard_offers_every_user_and_plan_and_says_which_reports_have_figures(conn, make_user) -> None:
    admin, member = make_user(role="admin"), make_user()
    conn.execute(text("UPDATE usage_rollup_state SET watermark = NULL, refreshed_at = NULL"))
    before = dashboard.filters(conn, actor=admin)
    assert before.last_refreshed is None and before.plans == ("free", "basic", "pro")
    assert {admin.email, member.email} <= {u.email for u in before.users}
    with pytest.raises(PermissionDenied):
        dashboard.filters(conn, actor=member)
    made = seed_usage(conn, users=6, ledger_rows=200, variants=60, days=20, end=END, seed=0.3)
    rollup.refresh_rollup(conn)
    assert dashboard.filters(conn, actor=admin).last_refreshed is not None

    seen = dashboard.reports(conn, date_from=made.start.date(), date_to=made.end.date())
    assert list(seen.frames) == list(reports.REPORTS) and all(map(seen.has_figures, reports.REPORTS))
    assert seen.totals == reports.totals(seen.frames) and seen.totals["credits"] > 0
    quiet = dashboard.reports(conn, date_from=dt.date(1999, 1, 1), date_to=dt.date(1999, 1, 2))
    assert not quiet.frames["cost_vs_revenue"].empty  # a row per month, all zero: nothing to show
    assert not any(map(quiet.has_figures, reports.REPORTS))
    assert quiet.totals == {"credits": 0, "images": 0, "failed": 0}
    with pytest.raises(InvalidInput, match="plan must be"):
        dashboard.reports(conn, date_from=dt.date(2025, 1, 1), date_to=dt.date(2025, 1, 2), plan="gold")


def test_cost_and_revenue_are_numbers_even_without_usage(conn) -> None:
    """Plotly refuses to chart side by side an object column (what an outer merge with an empty side leaves)."""
    frame = reports.cost_vs_revenue(conn, date_from=dt.date(1999, 1, 1), date_to=dt.date(1999, 1, 2))
    assert frame["cost_usd"].dtype == "float64" and frame["revenue_usd"].dtype == "float64"


def test_filters_are_validated(conn) -> None:
    with pytest.raises(InvalidInput, match="after its end"):
        reports.credits_by_day(conn, date_from=dt.date(2025, 2, 1), date_to=dt.date(2025, 1, 1))
    with pytest.raises(InvalidInput, match="plan must be"):
        reports.latency(conn, date_from=dt.date(2025, 1, 1), date_to=dt.date(2025, 1, 2), plan="gold")


# ---- refresh -----------------------------------------------------------------------------------------------

def test_incremental_refresh_equals_full_rebuild(conn, seeded, make_user) -> None:
    before = snapshot(conn)
    today = conn.execute(text("SELECT (now() AT TIME ZONE 'UTC')::date")).scalar_one()
    now = conn.execute(text("SELECT now()")).scalar_one()
    seed_usage(conn, users=4, ledger_rows=200, variants=60, days=1 / 48, end=now, prefix="late-", seed=0.3)
    admin = make_user(role="admin")
    target = users.get_user(conn, email="late-1@example.com")
    users.set_role_and_plan(conn, actor=admin, user_id=target.id, role="member", plan="pro")
    reports.adjust_credits(conn, actor=admin, user_id=target.id, amount=25, reason="goodwill", key="k-1")
    days = rollup.refresh_rollup(conn)
    assert set(days) <= {today, today - dt.timedelta(days=1)}  # only what changed, not the 75 seeded days
    incremental = snapshot(conn)
    assert incremental != before
    assert rollup.rebuild_rollup(conn) and snapshot(conn) == incremental


def test_backdated_rows_need_since(conn, seeded, make_user) -> None:
    member = make_user(plan="basic")
    ledger.grant(conn, user_id=member.id, amount=40, key="late-grant", reason="invoice")
    old = dt.datetime(2025, 5, 2, 8, tzinfo=dt.UTC)
    conn.execute(text("UPDATE credit_transactions SET created_at = :at WHERE idempotency_key = 'late-grant'"),
                 {"at": old})
    assert old.date() not in rollup.refresh_rollup(conn)  # older than watermark - overlap: not looked at
    assert old.date() in rollup.refresh_rollup(conn, since=old.date())
    forced = snapshot(conn)
    rollup.rebuild_rollup(conn)
    assert snapshot(conn) == forced


def test_refreshing_twice_changes_nothing(conn, seeded) -> None:
    first = snapshot(conn)
    assert sum(len(rows) for rows in first.values()) > 100
    rollup.refresh_rollup(conn)
    rollup.refresh_rollup(conn)
    assert snapshot(conn) == first
    assert rollup.last_refreshed(conn) is not None


@pytest.fixture
def committed_seed(engine: Engine):
    with engine.begin() as conn:
        seed_usage(conn, users=10, ledger_rows=600, variants=150, days=20, prefix="conc-", seed=0.5)
    yield
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM users WHERE email LIKE 'conc-%'"))  # cascades to the seeded rows
        conn.execute(text(f"TRUNCATE {PLAN_LEVEL_TABLES}"))
        conn.execute(text("UPDATE usage_rollup_state SET watermark = NULL, refreshed_at = NULL"))


def test_concurrent_refreshes_are_serialised(engine: Engine, committed_seed) -> None:
    barrier, errors = threading.Barrier(3), []

    def refresh() -> None:
        try:
            barrier.wait()
            with engine.begin() as conn:
                rollup.refresh_rollup(conn)
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=refresh) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with engine.begin() as conn:
        concurrent = snapshot(conn)
        rollup.rebuild_rollup(conn)
        assert snapshot(conn) == concurrent and concurrent["usage_daily"]


# ---- admin tools -------------------------------------------------------------------------------------------

def test_only_admins_adjust_credits_and_each_key_counts_once(conn, make_user) -> None:
    admin, member = make_user(role="admin"), make_user()
    with pytest.raises(PermissionDenied):
        reports.adjust_credits(conn, actor=member, user_id=member.id, amount=100, reason="me", key="x")
    with pytest.raises(InvalidInput, match="reason"):
        reports.adjust_credits(conn, actor=admin, user_id=member.id, amount=5, reason="  ", key="y")
    key = reports.new_adjustment_key()
    assert reports.adjust_credits(conn, actor=admin, user_id=member.id, amount=12, reason="refund", key=key)
    assert not reports.adjust_credits(conn, actor=admin, user_id=member.id, amount=12, reason="refund", key=key)
    row = ledger.ledger(conn, user_id=member.id)[0]
    assert (row["kind"], row["amount"], row["reason"]) == ("adjustment", 12, "refund")
    assert ledger.balance(conn, user_id=member.id).available == 30 + 12


def expect_spend_by_model_size(conn: Connection, f: dict[str, Any]) -> dict[tuple, dict[str, Any]]:
    sums: dict[tuple, dict[str, Any]] = defaultdict(lambda: {"images": 0, "failed": 0, "credits": 0,
                                                             "cost_usd": Decimal(0)})
    items = conn.execute(text("SELECT j.user_id, j.backend, j.model, j.image_size, d.status, d.cost_usd, "
                              "d.finished_at FROM differences d JOIN generation_jobs j ON j.id = d.job_id "
                              "WHERE d.status IN ('done', 'failed')")).all()
    for i in items:
        if f["date_from"] <= day_of(i.finished_at) <= f["date_to"] and f["user_id"] in (None, i.user_id):
            row = sums[(i.backend, i.model, i.image_size)]
            row["images" if i.status == "done" else "failed"] += 1
            row["cost_usd"] += i.cost_usd
    captures = conn.execute(text("SELECT c.user_id, c.amount, c.created_at, j.backend, j.model, j.image_size "
                                 "FROM credit_transactions c JOIN generation_jobs j ON j.id = c.job_id "
                                 "WHERE c.kind = 'capture'")).all()
    for c in captures:
        if f["date_from"] <= day_of(c.created_at) <= f["date_to"] and f["user_id"] in (None, c.user_id):
            sums[(c.backend, c.model, c.image_size)]["credits"] += c.amount
    return {k: {**v, "cost_usd": float(v["cost_usd"])} for k, v in sums.items() if any(v.values())}


@pytest.mark.parametrize("by_user", [False, True])
def test_spend_by_model_and_size_equals_brute_force(conn, seeded, by_user: bool) -> None:
    f = {"date_from": seeded.start.date() + dt.timedelta(days=5), "date_to": seeded.end.date(),
         "user_id": heavy_user(conn) if by_user else None}
    frame = reports.spend_by_model_size(conn, **f)
    expected = expect_spend_by_model_size(conn, f)
    assert len(expected) >= 3 and len(frame) == len(expected)
    for row in reports.to_records(frame):
        want = expected[(row["backend"], row["model"], row["image_size"])]
        assert (row["images"], row["failed"], row["credits"]) == (want["images"], want["failed"], want["credits"])
        assert math.isclose(row["cost_usd"], want["cost_usd"], abs_tol=1e-6)
    assert frame["cost_usd"].is_monotonic_decreasing
