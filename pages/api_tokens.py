"""API tokens: personal access tokens for the REST API (`/api/v1`): create (shown once), list, revoke."""

from datetime import UTC, datetime, time, timedelta

import pandas as pd
import streamlit as st

from lib.accounts import tokens
from lib.core.errors import StudioError
from lib.web import auth, resources, state, widgets
from lib.web.i18n import _

user = auth.require_user()
st.title(_("API tokens"))
widgets.show_flash()
st.caption(_("Scripts and bots reach the studio through its REST API at `/api/v1` with "
           "`Authorization: Bearer <token>`; the API's description is at `/api/v1/openapi.json`. A token acts as "
           "you: keep it secret, give each script its own, and revoke one as soon as it may have leaked."))

if created := state.NEW_TOKEN.pop():
    st.success(_("Copy the token now: it is shown only this once."), icon=":material/key:")
    st.code(created, language=None)

with st.form("new-token", clear_on_submit=False):
    name = st.text_input(_("Name"), max_chars=100, placeholder=_("e.g. nightly build export"))
    expires = st.date_input(_("Expires (optional)"), value=None, min_value=datetime.now(UTC).date() + timedelta(days=1))
    if st.form_submit_button(_("Create token")):
        try:
            with resources.transaction() as conn:
                _token, secret = tokens.create_token(
                    conn, actor=user, name=name, now=datetime.now(UTC),
                    expires_at=datetime.combine(expires, time(), tzinfo=UTC) if expires else None)
            state.NEW_TOKEN.set(secret)
            st.rerun()
        except StudioError as exc:
            widgets.show_error(exc)

with resources.transaction() as conn:
    mine = tokens.list_tokens(conn, actor=user)
if not mine:
    st.info(_("No tokens yet. Create one above to use the API."))
    st.stop()

now = datetime.now(UTC)
st.dataframe(pd.DataFrame([{"name": t.name, "token": f"{t.prefix}…", "status": t.status(now),
                            "created": t.created_at, "expires": t.expires_at, "last used": t.last_used_at}
                           for t in mine]), hide_index=True, width="stretch")
live = [t for t in mine if t.status(now) == "active"]
if live:
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    chosen = left.selectbox(_("Revoke a token"), live, format_func=lambda t: f"{t.name} ({t.prefix}…)")
    if right.button(_("Revoke"), type="primary", width="stretch"):
        with resources.transaction() as conn:
            tokens.revoke_token(conn, actor=user, token_id=chosen.id)
        widgets.flash(f"Revoked {chosen.name}: it stopped working at once.")
        st.rerun()
