"""The sign-in gate: streamlit-authenticator over the users table, plus what that library lacks.

Failed sign-ins are throttled per account and source in Postgres, and a session is checked against
`users.sessions_valid_after` on every run, so logout, password resets and disabled accounts end sessions
server-side (including re-authentication cookies issued before).
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
from datetime import UTC, datetime, timedelta

import jwt
import streamlit as st
import streamlit_authenticator as stauth
from streamlit.delta_generator import DeltaGenerator
from streamlit_authenticator.utilities.exceptions import LoginError

from lib.accounts import signin, users
from lib.accounts.users import User
from lib.core.markdown import escape_markdown
from lib.notifications import inbox
from lib.web import i18n, state
from lib.web.i18n import _
from lib.web.resources import settings, transaction


def _source() -> str:
    """Where a sign-in comes from, for throttling: the TCP peer, or what a trusted proxy says it forwarded.

    `python -m lib run` starts the web server with FORWARDED_ALLOW_IPS empty, so uvicorn leaves the peer
    alone and `st.context.ip_address` is the TCP peer (None for loopback). Started otherwise, uvicorn may
    have taken the peer from X-Forwarded-For itself: then a request carrying that header counts as unknown.
    """
    forwarded = st.context.headers.get_all("X-Forwarded-For")
    if forwarded and os.environ.get("FORWARDED_ALLOW_IPS") != "":
        return signin.UNKNOWN_SOURCE
    return signin.client_address(peer=st.context.ip_address or "127.0.0.1", forwarded_for=forwarded,
                                 trusted=settings().trusted_networks)


def _limits() -> signin.Limits:
    s = settings()
    return signin.Limits(max_failures=s.login_max_failures, window_seconds=s.login_lock_minutes * 60,
                         first_lock_seconds=s.login_first_lock_seconds)


class _ClaimingEntry(dict):
    """One user's credentials entry; the library's attempt-limit check claims the attempt in Postgres.

    streamlit-authenticator reads `failed_login_attempts` exactly once per submitted sign-in, right before
    it checks the password: answering there makes our check-and-record the only gate (atomic in Postgres).
    """

    def get(self, key: object, default: object = None) -> object:
        if key != "failed_login_attempts":
            return super().get(key, default)
        with transaction() as conn:
            claim = signin.claim_attempt(conn, email=self["email"], source=self["source"], limits=_limits())
        if claim.allowed:
            return 0
        self["refused"] = claim
        return settings().login_max_failures


def _credentials(source: str) -> dict:
    """Active users for the authenticator, each entry claiming its attempt when the form is submitted."""
    with transaction() as conn:
        creds = users.authenticator_credentials(conn)
    creds["usernames"] = {email: _ClaimingEntry(entry, source=source) for email, entry in creds["usernames"].items()}
    return creds


def _on_login(details: dict) -> None:
    """A sign-in through the form: record it and hold a new re-authentication cookie for `_remember_browser`.

    Held here, in the library's callback, because the run that signs in can be cut short by a rerun (the
    cookie reader reporting a change) before it reaches `_remember_browser`; the next run already finds
    the user signed in, and the cookie must still be written.
    """
    state.AUTHENTICATED_AT.set(datetime.now(UTC))
    s = settings()
    email = details["username"]
    expires = datetime.now() + timedelta(days=s.studio_cookie_days)
    token = jwt.encode({"username": email, "exp_date": expires.timestamp()}, s.cookie_key(), algorithm="HS256")
    state.REMEMBER_COOKIE.set(state.RememberCookie(email=email, token=token, expires=expires))
    with transaction() as conn:
        signin.record_success(conn, email=email, source=_source())


def _on_sign_out(user_id: object) -> None:
    """End every session of the user server-side; the next run clears this browser's cookie."""
    with transaction() as conn:
        users.end_sessions(conn, user_id=user_id)
    state.SIGN_OUT.set(True)


def _cookie_token() -> dict | None:
    """The re-authentication cookie's payload, if this browser sent one signed with our key (HS256)."""
    s = settings()
    token = st.context.cookies.get(s.studio_cookie_name)
    if not isinstance(token, str) or not token:
        return None
    try:
        data = jwt.decode(token, s.cookie_key(), algorithms=["HS256"])
    except jwt.PyJWTError:
        return None
    return data if isinstance(data, dict) else None


def _ignore_foreign_cookie() -> None:
    """Make the library skip a cookie we did not sign: it catches only some PyJWT errors, and an
    `alg: none` or HS512 token raised InvalidAlgorithmError from its login, before the form rendered."""
    if st.context.cookies.get(settings().studio_cookie_name) and _cookie_token() is None:
        state.ignore_auth_cookie()


def _cookie_issued_at() -> datetime | None:
    """When the re-authentication cookie was issued (the library stores only its expiry)."""
    data = _cookie_token()
    try:
        return datetime.fromtimestamp(data["exp_date"], UTC) - timedelta(days=settings().studio_cookie_days)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        return None


def _refuse_cookie_of_inactive_account(creds: dict) -> None:
    """A cookie naming a disabled (or deleted) account: say so and show the form instead of the library's error."""
    email = (_cookie_token() or {}).get("username")
    if state.AUTH_STATUS.get() or not isinstance(email, str) or email in creds["usernames"]:
        return
    state.forget_sign_in()  # the library then ignores the cookie for this browser session
    with transaction() as conn:
        user = users.find_user(conn, email=email)
    if user is not None and not user.is_active:
        st.warning(_("This account is disabled. Ask a studio admin if you need it again."))


def _authenticator(creds: dict) -> stauth.Authenticate:
    s = settings()
    return stauth.Authenticate(
        creds, cookie_name=s.studio_cookie_name, cookie_key=s.cookie_key(),
        cookie_expiry_days=s.studio_cookie_days, auto_hash=False, login_sleep_time=0,
    )


def _validated_user() -> User | None:
    """The signed-in user if the session is still valid server-side; otherwise sign them out."""
    email = state.AUTH_USERNAME.get()
    if not state.AUTH_STATUS.get() or not email:
        return None
    authenticated_at = state.AUTHENTICATED_AT.get() or _cookie_issued_at()
    if authenticated_at is None:
        return None
    state.AUTHENTICATED_AT.set(authenticated_at)
    with transaction() as conn:
        return users.session_user(conn, email=email, authenticated_at=authenticated_at)


def _remember_browser(auth: stauth.Authenticate, email: str) -> None:
    """Write the re-authentication cookie `_on_login` holds, on every run until the browser has it.

    The library writes it from a component inside the sign-in form, and `form.empty()` removes that
    component before the browser mounts it: without this, a reload or a pasted URL signed people out.
    The component is rendered on the following runs too, under a key of its own token, until the browser's
    cookies (as the library's cookie reader reports them) hold the token: a rerun that starts before the
    browser mounted it (after a sign-out and a new sign-in in the same tab) cannot drop it, and once it is
    written nothing writes it again (a later sign-out's delete stays deleted).
    The token has the library's format (`username`, `exp_date`), so its cookie login accepts it.
    """
    s = settings()
    manager = auth.cookie_controller.cookie_model.cookie_manager
    remembered = state.REMEMBER_COOKIE.get()
    if remembered is None or remembered.email != email or not remembered.token:
        return  # signed in by a cookie the browser holds, or written already
    if (manager.cookies or {}).get(s.studio_cookie_name) == remembered.token:
        state.REMEMBER_COOKIE.set(dataclasses.replace(remembered, token=""))  # the browser has it
        return
    key = "studio_remember_" + hashlib.sha256(remembered.token.encode()).hexdigest()[:16]
    with st.sidebar:
        manager.set(s.studio_cookie_name, remembered.token, key=key, expires_at=remembered.expires)


def _forget_browser(auth: stauth.Authenticate) -> None:
    """Delete the sign-in cookie again on each run until the browser's cookies no longer hold it.

    The library deletes it from a component rendered in the sign-out's run; a rerun that starts before the
    browser mounted that component drops it, and the cookie stayed (the twin of `_remember_browser`).
    """
    name = settings().studio_cookie_name
    manager = auth.cookie_controller.cookie_model.cookie_manager
    if state.AUTH_STATUS.get() or name not in (manager.cookies or {}):
        state.FORGET_COOKIE.set(False)  # signed in again (its own cookie is written), or the browser has none
        return
    with st.sidebar:
        manager.delete(name, key="studio_forget_cookie")


def _show_form(auth: stauth.Authenticate, form: DeltaGenerator, creds: dict) -> bool:
    """Render the library's sign-in form (or accept its cookie); False when the account is locked."""
    _ignore_foreign_cookie()
    try:
        with form.container(), st.columns([1, 2, 1])[1]:
            st.header(_("Miyabi Character Studio"), anchor=False)
            st.caption(_("Sign in with the email and password your studio admin gave you. "
                       "No account, or forgot the password? Ask an admin."))
            auth.login(fields={"Form name": _("Sign in"), "Username": _("Email"), "Password": _("Password"),
                               "Login": _("Sign in")},
                       max_login_attempts=settings().login_max_failures, callback=_on_login)
    except LoginError:
        st.error(_locked_message(creds))
        return False
    return True


def _locked_message(creds: dict) -> str:
    refused = [e["refused"] for e in creds["usernames"].values() if "refused" in e]
    until = next((c.locked_until for c in refused if c.locked_until is not None), None)
    minutes = settings().login_lock_minutes
    if until is not None:
        minutes = max(1, math.ceil((until - datetime.now(UTC)).total_seconds() / 60))
    return (f"Too many failed sign-ins for this account. Try again in {minutes} minute{'s' * (minutes != 1)} "
            "or ask an admin to unlock it.")


def _sign_in() -> User | None:
    """Run the sign-in step of this script run: the valid signed-in user, or None with the form shown."""
    # First, so they hold the same place on every run: the library's cookie components before them come and
    # go (a sign-out's delete), and a rerun cut short then left a stale second form on the page.
    notice = st.empty()  # filled once the attempt is known: the notice must not outlive the form
    form = st.empty()  # emptied after a successful sign-in, so the form leaves in the same run
    creds = _credentials(_source())
    auth = _authenticator(creds)
    if state.SIGN_OUT.pop():
        if state.AUTH_STATUS.get():
            auth.logout(location="unrendered")  # clears the library's state and deletes its cookie
        state.AUTHENTICATED_AT.pop()
        state.VIEWER.pop()
        state.REMEMBER_COOKIE.pop()  # stop writing the cookie the sign-out deletes
        state.FORGET_COOKIE.set(True)
        state.SIGNED_OUT.set(True)
    elif state.FORGET_COOKIE.get():
        _forget_browser(auth)
    _refuse_cookie_of_inactive_account(creds)
    if not _show_form(auth, form, creds):
        return None
    status = state.AUTH_STATUS.get()
    if status is not None:
        state.SIGNED_OUT.set(False)
    if status is False:
        st.error(_("Wrong email or password."))
    if not status:
        if state.SIGNED_OUT.get():  # on every run until a sign-in: a rerun (the cookie delete's) must not wipe it
            notice.info(_("You have signed out."))
        return None
    user = _validated_user()
    if user is not None:
        form.empty()
        _remember_browser(auth, user.email)
        return user
    state.forget_sign_in()  # ended server-side (sign-out elsewhere, password reset, disabled account)
    st.warning(_("Your session has ended. Please sign in again."))
    _show_form(auth, form, creds)
    return None


def sign_in_gate() -> User:
    """For app.py: the signed-in user, or the sign-in form alone (no page list) and the run stops."""
    user = _sign_in()
    if user is None:
        i18n.language_switch()
        st.navigation([st.Page(_signed_out_page, title=_("Sign in"), default=True)], position="hidden").run()
        st.stop()
    return user


def _signed_out_page() -> None:
    """The only page before sign-in; the entrypoint has already drawn the form."""


def _account_box(user: User) -> None:
    with st.sidebar:
        st.caption(_("Signed in as **{email}** ({role}, {plan} plan)", email=escape_markdown(user.email),
                     role=_(user.role), plan=user.plan))
        st.button(_("Sign out"), key="studio_sign_out_button", on_click=_on_sign_out, args=(user.id,))
    i18n.language_switch()


def require_user() -> User:
    """The signed-in user for a page; shows the sign-in form and stops the run if there is none.

    Pages call this themselves (not only app.py), so a page opened on its own is guarded too.
    """
    user = None if state.SIGN_OUT.get() else _validated_user()
    if user is None:
        user = _sign_in()
    if user is None:
        st.stop()
    state.VIEWER.set(user.id)
    _account_box(user)
    _announce_ended_batches(user)
    return user


def _announce_ended_batches(user: User) -> None:
    """Batches that ended since the user last looked: one notice each, on whichever page they open next."""
    with transaction() as conn:
        notices = inbox.take_unseen(conn, actor=user)
    for notice in notices:
        icon = ":material/check_circle:" if notice.outcome == "done" and not notice.failed else ":material/info:"
        st.toast(escape_markdown(_headline(notice)), icon=icon, duration="long")


def _headline(notice: inbox.Notice) -> str:
    """inbox.headline (the words of emails and webhooks) in the reader's language."""
    parts = [_("{n} made", n=notice.done)] + [_("{n} failed", n=notice.failed)] * bool(notice.failed) + [
        _("{n} cancelled", n=notice.cancelled)] * bool(notice.cancelled)
    if notice.outcome == "done":
        outcome = _("batch partly failed") if notice.failed else _("batch done")
    else:
        outcome = {"failed": _("batch failed"), "cancelled": _("batch cancelled")}.get(notice.outcome, notice.outcome)
    return _("{character}: {outcome} — {counts}", character=notice.character_name, outcome=outcome,
             counts=", ".join(parts))


def require_admin() -> User:
    """The signed-in admin; members are refused with a clear message."""
    user = require_user()
    if not user.is_admin:
        st.error(_("This page is for admins only."))
        st.stop()
    return user
