"""Account: how the studio tells you a batch has ended (email, your webhook) and the notices it sent."""

import pandas as pd
import streamlit as st

from lib.core.errors import StudioError
from lib.notifications import inbox
from lib.web import auth, resources, widgets

user = auth.require_user()
st.title("Account")
widgets.show_flash()

with resources.transaction() as conn:
    prefs = inbox.preferences(conn, actor=user)

st.subheader("When a batch ends")
st.caption("You always get a notice here in the studio. Emails need the studio's SMTP server "
           f"({'configured' if resources.settings().smtp_url else 'not configured yet: ask an admin'}).")
with st.form("notifications"):
    email = st.toggle("Email me when a batch ends", value=prefs.email)
    webhook = st.text_input("Webhook URL (optional)", value=prefs.webhook_url or "", max_chars=2000,
                            placeholder="https://example.com/hooks/studio",
                            help="Receives a signed JSON event (`batch.ended`) for every batch that ends")
    if st.form_submit_button("Save"):
        try:
            with resources.transaction() as conn:
                inbox.set_preferences(conn, actor=user, email=email, webhook_url=webhook)
            widgets.flash("Saved.")
            st.rerun()
        except StudioError as exc:
            widgets.show_error(exc)
if prefs.webhook_url and prefs.webhook_secret:
    st.caption("Each event carries `X-Studio-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">`, "
               "signed with this secret:")
    st.code(prefs.webhook_secret, language=None)

st.subheader("Notices")
with resources.transaction() as conn:
    notices = inbox.recent(conn, actor=user)
if not notices:
    st.info("No batch of yours has ended yet.")
else:
    st.dataframe(pd.DataFrame([{"when": n.created_at, "batch": n.headline,
                                "email": n.row["email_state"] + (f" ({n.row['email_error']})" if n.row["email_error"]
                                                                 and n.row["email_state"] != "sent" else ""),
                                "webhook": n.row["webhook_state"]} for n in notices]),
                 hide_index=True, width="stretch")
