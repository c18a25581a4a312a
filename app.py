"""Miyabi Character Studio: the entrypoint routes and frames; pages do the work."""

import streamlit as st

from lib.web import auth
from lib.web.boundary import boundary
from lib.web.i18n import _

st.set_page_config(page_title="Miyabi Character Studio", page_icon="🎨", layout="wide")

with boundary():  # the sign-in gate and every page run inside it: errors show an incident id, not a traceback
    user = auth.sign_in_gate()

    pages = {
        _("Studio"): [
            st.Page("pages/characters.py", title=_("Characters"), icon=":material/face:", default=True),
            st.Page("pages/generate.py", title=_("Generate"), icon=":material/auto_awesome:"),
            st.Page("pages/exports.py", title=_("Exports"), icon=":material/download:"),
            st.Page("pages/credits.py", title=_("Credits"), icon=":material/toll:"),
            st.Page("pages/billing.py", title=_("Billing"), icon=":material/credit_card:"),
            st.Page("pages/account.py", title=_("Account"), icon=":material/notifications:"),
            st.Page("pages/api_tokens.py", title=_("API tokens"), icon=":material/key:"),
        ],
    }
    if user.is_admin:
        pages[_("Admin")] = [
            st.Page("pages/admin_users.py", title=_("Users"), icon=":material/group:"),
            st.Page("pages/admin_reports.py", title=_("Reports"), icon=":material/monitoring:"),
            st.Page("pages/admin_health.py", title=_("Health"), icon=":material/health_and_safety:"),
        ]

    st.navigation(pages).run()
