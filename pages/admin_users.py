"""Admin: add users, change role and plan, reset passwords, disable accounts, unlock sign-ins."""

import pandas as pd
import streamlit as st

from lib.accounts import signin, users
from lib.core.errors import StudioError
from lib.generation import access
from lib.web import auth, resources, state, widgets
from lib.web.i18n import _

admin = auth.require_admin()
st.title(_("Users"))
widgets.show_flash()

with resources.transaction() as conn:
    everyone = users.list_users(conn, actor=admin)

st.dataframe(
    pd.DataFrame([{"email": u.email, "name": u.display_name, "role": u.role, "plan": u.plan,
                   "active": u.is_active, "created": u.created_at} for u in everyone]),
    hide_index=True, width="stretch",
)

st.subheader(_("Add a user"))
# What was typed stays after an error; a success bumps the form's version, which brings a fresh, empty form.
version = state.ADD_USER_FORM.get()
with st.form("add-user" if not version else f"add-user-{version}"):
    c1, c2, c3 = st.columns([2, 1, 1])
    email = c1.text_input(_("Email"))
    role = c2.selectbox(_("Role"), users.ROLES, index=users.ROLES.index("member"))
    plan = c3.selectbox(_("Plan"), users.PLANS)
    password = st.text_input(_("Initial password (at least {n} characters)",
                                              n=users.MIN_PASSWORD_LENGTH),
                             type="password")
    if st.form_submit_button(_("Add user"), type="primary"):
        try:
            with resources.transaction() as conn:
                created = users.create_user(conn, email=email, password=password, role=role, plan=plan)
            widgets.flash(f"Added {widgets.escape_markdown(created.email)} ({created.role}, {created.plan} plan). "
                          "They can sign in now.")
            state.ADD_USER_FORM.set(state.ADD_USER_FORM.get() + 1)
            st.rerun()
        except StudioError as exc:
            widgets.show_error(exc)

st.subheader(_("Change a user"))
by_email = {u.email: u for u in everyone}
chosen = st.selectbox(_("User"), list(by_email))
target = by_email[chosen]
tab_plan, tab_password, tab_access = st.tabs([_("Role and plan"), _("Reset password"), _("Access")])
with tab_plan, st.form("role-plan"):
    new_role = st.selectbox(_("Role"), users.ROLES, index=users.ROLES.index(target.role))
    new_plan = st.selectbox(_("Plan"), users.PLANS, index=users.PLANS.index(target.plan))
    if st.form_submit_button(_("Save")):
        try:
            with resources.transaction() as conn:
                users.set_role_and_plan(conn, actor=admin, user_id=target.id, role=new_role, plan=new_plan)
            widgets.flash(f"Updated {widgets.escape_markdown(target.email)}: {new_role}, {new_plan} plan.")
            st.rerun()
        except StudioError as exc:
            widgets.show_error(exc)
with tab_password, st.form("reset-password"):
    st.caption(_("Resetting a password signs the user out everywhere."))
    new_password = st.text_input(_("New password"), type="password")
    if st.form_submit_button(_("Reset password")):
        try:
            with resources.transaction() as conn:
                users.reset_password(conn, actor=admin, user_id=target.id, new_password=new_password)
            st.success(_("Password reset for {email}; their sessions have ended.",
                         email=widgets.escape_markdown(target.email)))
        except StudioError as exc:
            widgets.show_error(exc)
with tab_access:
    label = "Disable account" if target.is_active else "Enable account"
    st.caption(_("Disabling signs the user out everywhere and cancels their queued images (credits released); "
               "their characters are kept."))
    if st.button(label, disabled=target.id == admin.id):
        try:
            with resources.transaction() as conn:
                access.set_user_active(conn, actor=admin, user_id=target.id, active=not target.is_active)
            st.rerun()
        except StudioError as exc:
            widgets.show_error(exc)
    with resources.transaction() as conn:
        locked_until = signin.locked_until(conn, email=target.email)
    st.caption(_("Sign-in locked until {when} after failed attempts.", when=f"{locked_until:%Y-%m-%d %H:%M %Z}")
               if locked_until else _("Unlocking forgets the account's failed sign-ins from every address."))
    if st.button(_("Unlock sign-in")):
        try:
            with resources.transaction() as conn:
                signin.unlock(conn, actor=admin, email=target.email)
            st.success(_("{email} can sign in again.", email=target.email))
        except StudioError as exc:
            widgets.show_error(exc)
