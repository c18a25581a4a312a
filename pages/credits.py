"""Credits: balance, holds, this month's usage and the ledger of the signed-in user."""

import pandas as pd
import plotly.express as px
import streamlit as st

from lib.credits.statement import statement
from lib.web import auth, resources
from lib.web.i18n import _

user = auth.require_user()
st.title(_("Credits"))

with resources.transaction() as conn:
    mine = statement(conn, user_id=user.id, limit=500)
balance, usage, ledger = mine.balance, mine.usage_by_day, mine.entries

available, held, used, quota = st.columns(4)
available.metric(_("Available"), balance.available)
held.metric(_("Held by running batches"), balance.held)
used.metric(_("Used since {period_start:%d %b}", period_start=balance.period_start), balance.used_this_period)
quota.metric(_("Monthly credits ({plan})", plan=balance.plan), balance.monthly_credits)
st.caption(_("Credits are held when a batch is submitted, charged when an image is made and given back when "
           "an image fails or is cancelled. Each month your balance is reset to your plan's monthly credits."))

st.subheader(_("Usage this month"))
if usage:
    frame = pd.DataFrame(usage, columns=["day", "credits"])
    figure = px.bar(frame, x="day", y="credits", labels={"day": "", "credits": "credits used"})
    figure.update_layout(height=280, margin={"l": 0, "r": 0, "t": 10, "b": 0})
    figure.update_xaxes(type="category")  # whole days, not a time axis with sub-second ticks
    st.plotly_chart(figure, width="stretch")
else:
    st.info(_("No credits used this month yet."))

st.subheader(_("Ledger"))
if mine.lines:
    table = pd.DataFrame([(line.when, line.what, line.available, line.held) for line in mine.lines],
                         columns=["When", "What", "Available ±", "Held ±"])
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"When": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm")})
    raw = pd.DataFrame(ledger)[["created_at", "kind", "amount", "delta_available", "delta_held", "reason", "job_id"]]
    raw = raw.assign(job_id=raw["job_id"].map(lambda v: str(v) if v else ""))
    st.download_button(_("Download every ledger row (CSV)"), raw.to_csv(index=False), file_name="credits-ledger.csv",
                       mime="text/csv")
else:
    st.info(_("No ledger entries yet."))
