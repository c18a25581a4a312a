"""Admin reports on big data: 1,000 users, 1,000,000 ledger rows and 200,000 items over a year.

Run from the repository root: `python -m benchmarks.bench_reports [--runs 100]`. Uses a throwaway database
on the server of TEST_DATABASE_URL or DATABASE_URL, else an embedded one. Prints the seeding and refresh
times, the p50/p95 of each report query the admin page runs (goal: p95 <= 100 ms) against the median of
the raw-scan version, what the page would run without the rollup (goal: raw median / rollup p95 >= 20),
and the time of AppTest runs of the admin page (goal <= 2 s). Both sides are timed after a warm-up, on
the same connection; the load average is printed with each block, since other processes skew it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from devtools.report_seed import seed_usage
from lib.accounts import users
from lib.core import db, migrations
from lib.reports import frames, rollup
from tests.conftest import create_database, drop_database

PASSWORD = "correct-horse-battery"


def server_url() -> str:
    raw = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if raw:
        return db.sqlalchemy_url(raw)
    home = Path(tempfile.mkdtemp(prefix="bench-reports-pg-"))
    return db.sqlalchemy_url(db.embedded_server(home / "pgdata").get_uri())


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20)[-1]


def load_average() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def bench_queries(engine: sa.Engine, label: str, filters: dict, runs: int, raw_runs: int) -> None:
    print(f"\n{label} ({filters['date_from']} to {filters['date_to']}; {load_average()}):\n"
          f"  report (rollup) p50 / p95 ms | raw scan median ms | speed-up (raw median / rollup p95)")
    with engine.connect() as conn:
        for name in frames.REPORTS:
            report = getattr(frames, name)
            for _ in range(3):
                report(conn, **filters)  # warm caches and prepared statements
            fast = [timed(lambda r=report: r(conn, **filters)) for _ in range(runs)]
            report(conn, **filters, raw=True)  # the same warm-up for the raw scan
            slow = [timed(lambda r=report: r(conn, **filters, raw=True)) for _ in range(raw_runs)]
            ok = "ok" if p95(fast) <= 100 and statistics.median(slow) / p95(fast) >= 20 else "MISSED"
            print(f"  {name:16s} {statistics.median(fast):7.1f} / {p95(fast):7.1f} | {statistics.median(slow):8.1f} | "
                  f"{statistics.median(slow) / p95(fast):7.1f}x  {ok}")
        conn.rollback()


def bench_page(url: str) -> None:
    from streamlit.testing.v1 import AppTest

    os.environ.update(DATABASE_URL=url, STUDIO_COOKIE_KEY=uuid.uuid4().hex * 2,
                      STUDIO_HOME=tempfile.mkdtemp(prefix="bench-reports-home-"))
    engine = sa.create_engine(db.sqlalchemy_url(url))
    with engine.begin() as conn:
        users.create_user(conn, email="bench-admin@example.com", password=PASSWORD, role="admin")
    engine.dispose()
    import streamlit as st

    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "pages" / "admin_reports.py"),
                           default_timeout=60).run()
    at.text_input[0].input("bench-admin@example.com")
    at.text_input[1].input(PASSWORD)
    sign_in = timed(lambda: at.button[0].click().run())
    assert not at.exception and len(at.get("plotly_chart")) == 5, at.exception
    warm = timed(at.run)
    st.cache_data.clear()
    cold = timed(at.run)
    print(f"\n{load_average()}\nAppTest of pages/admin_reports.py (last 30 days, 5 charts, 5 tables): "
          f"sign-in run {sign_in:.0f} ms "
          f"(includes a bcrypt check), full page run with cold query cache {cold:.0f} ms, warm cache {warm:.0f} ms"
          f"  {'ok' if cold <= 2000 else 'MISSED'} (goal <= 2000 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # With 30 runs the interpolated p95 is almost the slowest run, one hiccup of another process on a busy
    # machine; 100 make it the 95th of 100. A rollup query takes milliseconds, so they cost little.
    parser.add_argument("--runs", type=int, default=100, help="timed runs of each rollup query")
    parser.add_argument("--raw-runs", type=int, default=5, help="timed runs of each raw-scan query")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--ledger-rows", type=int, default=1_000_000)
    parser.add_argument("--variants", type=int, default=200_000)
    args = parser.parse_args()
    server = server_url()
    name = f"bench_reports_{uuid.uuid4().hex[:8]}"
    url = create_database(server, name)
    try:
        engine = sa.create_engine(url)
        migrations.upgrade(engine)
        with engine.begin() as conn:
            started = time.perf_counter()
            seeded = seed_usage(conn, users=args.users, ledger_rows=args.ledger_rows, variants=args.variants)
        print(f"seeded {seeded.users} users, {seeded.jobs} jobs, {seeded.variants} items, {seeded.ledger_rows} "
              f"ledger rows over 365 days in {time.perf_counter() - started:.1f} s")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        with engine.begin() as conn:
            full = timed(lambda: rollup.refresh_rollup(conn))
            sizes = {t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar() for t in
                     ("usage_daily", "usage_daily_plan", "usage_latency_daily", "usage_latency_daily_plan",
                      "usage_latency_daily_total", "usage_monthly", "usage_monthly_plan", "usage_latency_monthly",
                      "usage_latency_monthly_plan", "revenue_monthly")}
        with engine.begin() as conn:
            again = timed(lambda: rollup.refresh_rollup(conn))
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        print(f"first refresh (full build) {full / 1000:.1f} s; incremental refresh with nothing new {again:.0f} ms")
        print("rollup rows: " + ", ".join(f"{t} {n}" for t, n in sizes.items()))
        today = seeded.end.date()
        month = {"date_from": today - dt.timedelta(days=29), "date_to": today}
        mid = (today if today.day >= 15 else today.replace(day=1) - dt.timedelta(days=1)).replace(day=15)
        across = {"date_from": mid - dt.timedelta(days=29), "date_to": mid}
        year = {"date_from": today - dt.timedelta(days=364), "date_to": today}
        with engine.connect() as conn:
            heavy = conn.exec_driver_sql("SELECT user_id FROM usage_daily GROUP BY 1 "
                                         "ORDER BY sum(credits_captured) DESC LIMIT 1").scalar()
        runs = (args.runs, args.raw_runs)
        bench_queries(engine, "last 30 days, all plans (the page's default)", month, *runs)
        # The default range lies inside one month only at a month's end; most days it reads daily rows only.
        bench_queries(engine, "30 days across a month boundary, all plans", across, *runs)
        bench_queries(engine, "30 days across a month boundary, plan pro", {**across, "plan": "pro"}, *runs)
        bench_queries(engine, "last 365 days, all plans", year, *runs)
        bench_queries(engine, "last 365 days, the heaviest user", {**year, "user_id": heavy}, *runs)
        engine.dispose()
        bench_page(url)
    finally:
        db.dispose_engines()
        drop_database(server, name)


if __name__ == "__main__":
    main()
