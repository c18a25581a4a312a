"""The admin reports page (AppTest) and the `reports` CLI: admins see charts, tables and CSVs, members are
refused, and the CLI (`lib.cli.main`) prints the page's numbers.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
from typing import Any

import pytest
from sqlalchemy import text
from streamlit.testing.v1 import AppTest

from devtools.report_seed import seed_usage
from lib.accounts import users
from lib.cli.main import main
from lib.credits import ledger
from lib.reports import frames, rollup
from tests.conftest import PASSWORD, PLAN_LEVEL_TABLES

PAGE = "../pages/admin_reports.py"


@pytest.fixture
def studio(committed_env, engine):
    with engine.begin() as conn:
        admin = users.create_user(conn, email="boss@example.com", password=PASSWORD, role="admin")
        member = users.create_user(conn, email="mei@example.com", password=PASSWORD)
        seed_usage(conn, users=12, ledger_rows=500, variants=120, days=20, prefix="page-", seed=0.25)
        rollup.refresh_rollup(conn)
    yield admin, member
    with engine.begin() as conn:  # wipe() removes users (and their per-user rollup rows), not these
        conn.execute(text(f"TRUNCATE {PLAN_LEVEL_TABLES}"))
        conn.execute(text("UPDATE usage_rollup_state SET watermark = NULL, refreshed_at = NULL"))


def signed_in(email: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.text_input[0].input(email)
    at.text_input[1].input(PASSWORD)
    return at.button[0].click().run()


def messages(at: AppTest) -> str:
    return " ".join(e.value for e in [*at.error, *at.warning, *at.info, *at.success])


def page_numbers(at: AppTest) -> dict[str, list[dict[str, Any]]]:
    """The tables in page order (every report has rows here, so each one is shown)."""
    return {name: frames.to_records(d.value) for name, d in zip(frames.REPORTS, at.dataframe, strict=True)}


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def test_admin_sees_every_report_and_the_cli_prints_the_same_numbers(studio) -> None:
    at = signed_in("boss@example.com")
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Reports"]
    assert len(at.get("plotly_chart")) == len(frames.REPORTS) == 7
    assert len(at.get("download_button")) == 7  # Gemini spend and cost per approved image too
    shown = page_numbers(at)
    assert list(shown) == list(frames.REPORTS) and all(shown.values())
    today = dt.datetime.now(dt.UTC).date()
    code, out, err = run_cli("reports", "credits", "--from", str(today - dt.timedelta(days=29)), "--to", str(today),
                             "--as", "boss@example.com", "--json")
    assert code == 0, err
    printed = json.loads(out)
    # Billing is not configured here: no subscription revenue on the page, only what generation cost.
    printed["cost_vs_revenue"] = [{k: v for k, v in row.items() if k not in ("revenue_usd", "accounts")}
                                  for row in printed["cost_vs_revenue"]]
    assert {name: printed[name] for name in frames.REPORTS} == shown
    assert "Gemini cost per month" in [s.value for s in at.subheader]
    assert not any("revenue" in s.value for s in at.subheader)


def test_filters_and_empty_state(studio) -> None:
    at = signed_in("boss@example.com")
    at.selectbox(key="report-plan").select("pro").run()
    assert not at.exception
    at.date_input(key="report-days").set_value((dt.date(2020, 1, 1), dt.date(2020, 1, 31))).run()
    assert "No usage in this range." in messages(at)
    assert not at.get("plotly_chart")


def test_member_is_refused(studio) -> None:
    at = signed_in("mei@example.com")
    assert "This page is for admins only." in messages(at)
    assert not at.dataframe and not at.title


def test_admin_adjusts_credits_with_a_reason(studio, engine) -> None:
    _, member = studio
    at = signed_in("boss@example.com")
    at.selectbox(key="adjust-user").select("mei@example.com")
    at.number_input(key="adjust-amount").set_value(15)
    at.button(key="FormSubmitter:adjust-credits-Record adjustment").click().run()
    assert "needs a reason" in messages(at)
    at.selectbox(key="adjust-user").select("mei@example.com")
    at.number_input(key="adjust-amount").set_value(15)
    at.text_input(key="adjust-reason").input("refund for a failed batch")
    at.button(key="FormSubmitter:adjust-credits-Record adjustment").click().run()
    assert "Recorded +15 credits for mei@example.com." in messages(at)
    with engine.connect() as conn:
        row = ledger.ledger(conn, user_id=member.id)[0]
        assert (row["kind"], row["amount"], row["reason"]) == ("adjustment", 15, "refund for a failed batch")


def test_cli_refuses_members_and_refreshes(studio) -> None:
    code, _, err = run_cli("reports", "credits", "--from", "2025-01-01", "--to", "2025-01-31",
                           "--as", "mei@example.com", "--json")
    assert code == 1 and "only admins" in err
    code, out, err = run_cli("reports", "refresh", "--json")
    assert code == 0, err
    assert isinstance(json.loads(out)["days"], list)
