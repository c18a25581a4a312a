"""Health (admins): the database, each alarm check (ok or firing since when), the queue and every worker."""

import pandas as pd
import streamlit as st

from lib.ops import health
from lib.web import auth, resources
from lib.web.i18n import _

auth.require_admin()
st.title(_("Health"))
settings = resources.settings()
now = health.snapshot(resources.engine(), settings)

if now.database != "ok":
    st.error(_("The database is {database}.", database=now.database))
    st.stop()
st.caption(_("Checks over the last {n} s. A worker evaluates them every minute and tells admins when one turns "
             "(by email when SMTP_URL is set, else in its log).", n=settings.alarm_window_seconds))

for check in now.checks:
    reading = check.reading
    if reading.firing:
        since = f" since {check.since:%Y-%m-%d %H:%M} UTC" if check.recorded_firing and check.since else ""
        st.error(_("**{name}** firing{since}: {says}", name=reading.name, since=since, says=reading.says),
                 icon=":material/warning:")
    else:
        st.success(_("**{name}** ok: {says}", name=reading.name, says=reading.says), icon=":material/check_circle:")

queue, left, right = now.queue, *st.columns(2)
left.metric(_("Images waiting"), queue["queued"])
left.metric(_("Oldest waiting"), f"{queue['oldest_seconds']:.0f} s")
right.metric(_("Images being made"), queue["running"])
right.metric(_("Workers alive"), sum(w["alive"] for w in now.workers))

st.subheader(_("Workers"))
if now.workers:
    st.dataframe(pd.DataFrame(now.workers), hide_index=True, width="stretch")
else:
    st.warning(_("No worker has ever registered: start one with `python -m lib worker` (make run starts one)."))

st.subheader(_("Alarm history"))
if now.events:
    st.dataframe(pd.DataFrame(now.events), hide_index=True, width="stretch")
else:
    st.info(_("No alarm has fired yet."))
