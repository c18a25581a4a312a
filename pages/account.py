"""Account: how the studio tells you a batch has ended (email, your webhook) and the notices it sent."""

import pandas as pd
import streamlit as st

from lib.core.errors import StudioError
from lib.notifications import inbox
from lib.web import auth, resources, widgets
from lib.web.i18n import _

user = auth.require_user()
st.title(_("Account"))
widgets.show_flash()

with resources.transaction() as conn:
    prefs = inbox.preferences(conn, actor=user)

st.subheader(_("When a batch ends"))
st.caption(_("You always get a notice here in the studio. Emails need the studio's SMTP server ({state}).",
             state=_("configured") if resources.settings().smtp_url else _("not configured yet: ask an admin")))
with st.form("notifications"):
    email = st.toggle(_("Email me when a batch ends"), value=prefs.email)
    webhook = st.text_input(_("Webhook URL (optional)"), value=prefs.webhook_url or "", max_chars=2000,
                            placeholder=_("https://example.com/hooks/studio"),
                            help=_("Receives a signed JSON event (`batch.ended`) for every batch that ends"))
    if st.form_submit_button(_("Save")):
        try:
            with resources.transaction() as conn:
                inbox.set_preferences(conn, actor=user, email=email, webhook_url=webhook)
            widgets.flash("Saved.")
            st.rerun()
        except StudioError as exc:
            widgets.show_error(exc)
if prefs.webhook_url and prefs.webhook_secret:
    st.caption(_("Each event carries `X-Studio-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">`, "
               "signed with this secret:"))
    st.code(prefs.webhook_secret, language=None)

st.subheader(_("Notices"))
with resources.transaction() as conn:
    notices = inbox.recent(conn, actor=user)
if not notices:
    st.info(_("No batch of yours has ended yet."))
else:
    st.dataframe(pd.DataFrame([{"when": n.created_at, "batch": n.headline,
                                "email": n.row["email_state"] + (f" ({n.row['email_error']})" if n.row["email_error"]
                                                                 and n.row["email_state"] != "sent" else ""),
                                "webhook": n.row["webhook_state"]} for n in notices]),
                 hide_index=True, width="stretch")
