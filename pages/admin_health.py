"""Health (admins): the database, each alarm check (ok or firing since when), the queue and every worker."""

import pandas as pd
import streamlit as st

from lib.ops import health
from lib.web import auth, resources

auth.require_admin()
st.title("Health")
settings = resources.settings()
now = health.snapshot(resources.engine(), settings)

if now.database != "ok":
    st.error(f"The database is {now.database}.")
    st.stop()
st.caption(f"Checks over the last {settings.alarm_window_seconds} s. A worker evaluates them every minute and "
           "tells admins when one turns (by email when SMTP_URL is set, else in its log).")

for check in now.checks:
    reading = check.reading
    if reading.firing:
        since = f" since {check.since:%Y-%m-%d %H:%M} UTC" if check.recorded_firing and check.since else ""
        st.error(f"**{reading.name}** firing{since}: {reading.says}", icon=":material/warning:")
    else:
        st.success(f"**{reading.name}** ok: {reading.says}", icon=":material/check_circle:")

queue, left, right = now.queue, *st.columns(2)
left.metric("Images waiting", queue["queued"])
left.metric("Oldest waiting", f"{queue['oldest_seconds']:.0f} s")
right.metric("Images being made", queue["running"])
right.metric("Workers alive", sum(w["alive"] for w in now.workers))

st.subheader("Workers")
if now.workers:
    st.dataframe(pd.DataFrame(now.workers), hide_index=True, width="stretch")
else:
    st.warning("No worker has ever registered: start one with `python -m lib worker` (make run starts one).")

st.subheader("Alarm history")
if now.events:
    st.dataframe(pd.DataFrame(now.events), hide_index=True, width="stretch")
else:
    st.info("No alarm has fired yet.")
