"""Admin: credit reports (usage, cost against revenue, top users, failures, latency) and credit adjustments."""

import datetime as dt
from collections.abc import Callable
from uuid import UUID

import pandas as pd
import plotly.express as px
import streamlit as st
from plotly.graph_objects import Figure

from lib.core.errors import StudioError
from lib.reports import dashboard, frames, rollup
from lib.web import auth, resources, state, widgets
from lib.web.i18n import _

admin = auth.require_admin()
st.title(_("Reports"))


@st.cache_data(ttl=300, show_spinner=False, max_entries=64)
def load(date_from: dt.date, date_to: dt.date, plan: str | None, user_id: UUID | None) -> dashboard.Reports:
    """Every report for these filters; admin-only data, so the filters are the whole key."""
    with resources.transaction() as conn:
        return dashboard.reports(conn, date_from=date_from, date_to=date_to, plan=plan, user_id=user_id)


with resources.transaction() as conn:
    choices = dashboard.filters(conn, actor=admin)

today = dt.datetime.now(dt.UTC).date()
refreshed = choices.last_refreshed
by_email = {u.email: u for u in choices.users}
c1, c2, c3 = st.columns([2, 1, 2])
picked = c1.date_input(_("Days (UTC)"), value=(today - dt.timedelta(days=29), today), key="report-days")
# "" stands for everyone: no plan or email is empty.
plan = c2.selectbox(_("Plan"), ["", *choices.plans], format_func=lambda p: p or _("All plans"), key="report-plan")
email_choice = c3.selectbox(_("User"), ["", *by_email], format_func=lambda e: e or _("All users"), key="report-user")
if not isinstance(picked, tuple) or len(picked) != 2:
    st.info(_("Choose the first and the last day of the range."))
    st.stop()

r1, r2 = st.columns([3, 1])
r1.caption(_("Figures come from the daily rollup, last refreshed {when} UTC (the worker refreshes it every 5 "
             "minutes; “Refresh now” includes the last few minutes).", when=f"{refreshed:%Y-%m-%d %H:%M}")
           if refreshed else _("The rollup has never been refreshed: press “Refresh now”."))
if r2.button(_("Refresh now"), key="refresh-rollup"):
    with resources.transaction() as conn:
        rollup.refresh_rollup(conn)
    load.clear()
    st.rerun()

chosen = by_email[email_choice] if email_choice else None
try:
    data = load(picked[0], picked[1], plan or None, chosen.id if chosen else None)
except StudioError as exc:
    widgets.show_error(exc)
    st.stop()

billing = resources.settings().billing_configured
if not billing:  # no subscriptions, so no revenue: show what generation cost
    data = data.without_revenue()
headline = data.totals
m1, m2, m3 = st.columns(3)
m1.metric(_("Credits used"), headline["credits"])
m2.metric(_("Images made"), headline["images"])
m3.metric(_("Images failed"), headline["failed"])

CHARTS: dict[str, tuple[str, Callable[[pd.DataFrame], Figure]]] = {
    "credits_by_day": (_("Credits used per day"), lambda f: px.bar(
        f, x="day", y="credits", color="model", pattern_shape="plan").update_xaxes(type="category")),
    "cost_vs_revenue": (_("Gemini cost and subscription revenue per month") if billing else _("Gemini cost per month"),
                        lambda f: px.bar(f, x="month", y=[c for c in ("revenue_usd", "cost_usd") if c in f],
                                         barmode="group", labels={"value": "USD"}).update_xaxes(type="category")),
    "top_users": (_("Top users by credits"), lambda f: px.bar(
        f, x="credits", y="email", orientation="h", hover_data=["images", "cost_usd"]).update_yaxes(
        autorange="reversed")),
    "failure_rates": (_("Failure and safety-block rates per model"), lambda f: px.bar(
        f, x="model", y=["failure_rate", "safety_rate"], barmode="group", labels={"value": "share"})),
    "latency": (_("Generation time per model (p50, p95)"), lambda f: px.bar(
        f, x="model", y=["p50_ms", "p95_ms"], barmode="group", labels={"value": "ms"})),
    "gemini_spend": (_("Gemini spend per day: standard, economy and notebook trials"), lambda f: px.bar(
        f, x="day", y="cost_usd", color="line", labels={"cost_usd": "USD"}).update_xaxes(type="category")),
    "cost_per_approved": (_("Cost and Gemini calls per approved image, by model and plan"), lambda f: px.bar(
        f, x="month", y="usd_per_approved", color="model", pattern_shape="plan", barmode="group",
        hover_data=["approved", "calls_per_approved"], labels={"usd_per_approved": "USD per approved image"})
        .update_xaxes(type="category")),
}
for name, (title, chart) in CHARTS.items():
    frame = data.frames[name]
    st.subheader(title)
    if not data.has_figures(name):
        st.info(_("No usage in this range."))
        continue
    st.plotly_chart(chart(frame), key=f"chart-{name}")
    st.dataframe(frame, hide_index=True, width="stretch", key=f"table-{name}")
    st.download_button(_("Download CSV"), frame.to_csv(index=False), file_name=f"{name}_{picked[0]}_{picked[1]}.csv",
                       mime="text/csv", key=f"csv-{name}", on_click="ignore")

st.subheader(_("Grant or take back credits"))
st.caption(_("Recorded in the ledger as an adjustment with your reason. Plans and access: the Users page."))
with st.form("adjust-credits", clear_on_submit=True):
    a1, a2 = st.columns([2, 1])
    who = a1.selectbox(_("User"), list(by_email), key="adjust-user")
    amount = a2.number_input(_("Credits (negative takes back)"), step=1, value=0, key="adjust-amount")
    reason = st.text_input(_("Reason"), key="adjust-reason")
    if st.form_submit_button(_("Record adjustment"), type="primary"):
        key = state.ADJUSTMENT_KEY.setdefault(frames.new_adjustment_key())
        try:
            with resources.transaction() as conn:
                recorded = frames.adjust_credits(conn, actor=admin, user_id=by_email[who].id, amount=int(amount),
                                                 reason=reason, key=key)
            state.ADJUSTMENT_KEY.pop()  # the next submit is a new adjustment
            shown = widgets.escape_markdown(who)
            st.success(_("Recorded {amount} credits for {who}.", amount=f"{int(amount):+d}", who=shown) if recorded
                       else _("This adjustment was already recorded for {who}; nothing changed.", who=shown))
        except StudioError as exc:
            widgets.show_error(exc)
