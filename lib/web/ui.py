"""The one module of lib/ that imports Streamlit: cached clients, the sign-in gate and shared widgets.

Sign-in uses streamlit-authenticator over the users table. On top of the library this module adds
what it lacks: failed sign-ins are throttled per account and source in Postgres, and a session is
checked against `users.sessions_valid_after` on every run, so logout, password resets and disabled
accounts end sessions server-side (including re-authentication cookies issued before).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import jwt
import streamlit as st
import streamlit_authenticator as stauth
from PIL import Image
from sqlalchemy import Connection, Engine
from streamlit.delta_generator import DeltaGenerator
from streamlit_authenticator.utilities.exceptions import LoginError

from lib.accounts import users
from lib.accounts.users import User
from lib.backends.base import ImageBackend
from lib.backends.factory import make_backend
from lib.catalog.characters import Character
from lib.core import db, migrations
from lib.core.errors import StudioError
from lib.core.settings import Settings, get_settings
from lib.core.storage import ObjectStore, make_store
from lib.design import expressions
from lib.design.face_box import FaceBox
from lib.generation.jobs import Difference

log = logging.getLogger(__name__)
_AUTH_AT = "studio_authenticated_at"
_SIGN_OUT = "studio_sign_out"
_FLASH = "studio_flash"


@st.cache_resource
def settings() -> Settings:
    value = get_settings()
    value.validate_for_startup()
    return value


@st.cache_resource
def engine() -> Engine:
    eng = db.get_engine(settings())
    migrations.upgrade(eng)
    return eng


@st.cache_resource
def store() -> ObjectStore:
    return make_store(settings())


@contextmanager
def transaction() -> Iterator[Connection]:
    """One database transaction for a page action (committed when the block ends cleanly)."""
    with engine().begin() as conn:
        yield conn


def _source() -> str:
    """Where a sign-in comes from, for throttling: the client address when Streamlit knows it."""
    address = st.context.ip_address
    return address if isinstance(address, str) and address else "unknown"


def _credentials(source: str) -> dict:
    """Active users for the authenticator; accounts locked from this source are marked as such."""
    s = settings()
    with transaction() as conn:
        creds = users.authenticator_credentials(conn)
        locked = users.locked_accounts(conn, source=source, max_failures=s.login_max_failures,
                                       window_seconds=s.login_lock_minutes * 60)
    for email, entry in creds["usernames"].items():
        entry["failed_login_attempts"] = s.login_max_failures if email in locked else 0
    return creds


def _on_login(details: dict) -> None:
    st.session_state[_AUTH_AT] = datetime.now(UTC)
    with transaction() as conn:
        users.clear_login_failures(conn, email=details["username"], source=_source())


def _on_sign_out(user_id: object) -> None:
    """End every session of the user server-side; the next run clears this browser's cookie."""
    with transaction() as conn:
        users.end_sessions(conn, user_id=user_id)
    st.session_state[_SIGN_OUT] = True


def _cookie_issued_at() -> datetime | None:
    """When the re-authentication cookie was issued (the library stores only its expiry)."""
    s = settings()
    token = st.context.cookies.get(s.studio_cookie_name)
    if not isinstance(token, str) or not token:
        return None
    try:
        data = jwt.decode(token, s.cookie_key(), algorithms=["HS256"])
        return datetime.fromtimestamp(data["exp_date"], UTC) - timedelta(days=s.studio_cookie_days)
    except (jwt.PyJWTError, KeyError, TypeError, ValueError):
        return None


def _authenticator(creds: dict) -> stauth.Authenticate:
    s = settings()
    return stauth.Authenticate(
        creds, cookie_name=s.studio_cookie_name, cookie_key=s.cookie_key(),
        cookie_expiry_days=s.studio_cookie_days, auto_hash=False, login_sleep_time=0,
    )


def _validated_user() -> User | None:
    """The signed-in user if the session is still valid server-side; otherwise sign them out."""
    email = st.session_state.get("username")
    if not st.session_state.get("authentication_status") or not email:
        return None
    authenticated_at = st.session_state.get(_AUTH_AT) or _cookie_issued_at()
    if authenticated_at is None:
        return None
    st.session_state[_AUTH_AT] = authenticated_at
    with transaction() as conn:
        return users.session_user(conn, email=email, authenticated_at=authenticated_at)


def _remember_browser(auth: stauth.Authenticate, email: str) -> None:
    """Write the re-authentication cookie where it survives this run.

    The library writes it from a component inside the sign-in form, and `form.empty()` removes that
    component before the browser mounts it: without this, a reload or a pasted URL signed people out.
    The token has the library's format (`username`, `exp_date`), so its cookie login accepts it.
    """
    s = settings()
    expires = datetime.now() + timedelta(days=s.studio_cookie_days)
    token = jwt.encode({"username": email, "exp_date": expires.timestamp()}, s.cookie_key(), algorithm="HS256")
    with st.sidebar:
        auth.cookie_controller.cookie_model.cookie_manager.set(
            s.studio_cookie_name, token, key="studio_remember_browser", expires_at=expires)


def _end_local_session() -> None:
    for key in ("authentication_status", "username", "name", "email", "roles", _AUTH_AT):
        st.session_state[key] = None
    st.session_state["logout"] = True


def _show_form(auth: stauth.Authenticate, form: DeltaGenerator) -> bool:
    """Render the library's sign-in form (or accept its cookie); False when the account is locked."""
    try:
        with form.container(), st.columns([1, 2, 1])[1]:
            st.header("Miyabi Character Studio", anchor=False)
            st.caption("Sign in with the email and password your studio admin gave you. "
                       "No account, or forgot the password? Ask an admin.")
            auth.login(fields={"Form name": "Sign in", "Username": "Email", "Password": "Password",
                               "Login": "Sign in"},
                       max_login_attempts=settings().login_max_failures, callback=_on_login)
    except LoginError:
        st.error("Too many failed sign-ins for this account. Try again in "
                 f"{settings().login_lock_minutes} minutes or ask an admin to reset the password.")
        return False
    return True


def _sign_in() -> User | None:
    """Run the sign-in step of this script run: the valid signed-in user, or None with the form shown."""
    source = _source()
    creds = _credentials(source)
    before = {e: entry["failed_login_attempts"] for e, entry in creds["usernames"].items()}
    auth = _authenticator(creds)
    if st.session_state.pop(_SIGN_OUT, False):
        if st.session_state.get("authentication_status"):
            auth.logout(location="unrendered")  # clears the library's state and deletes its cookie
        st.session_state.pop(_AUTH_AT, None)
        st.info("You have signed out.")
    form = st.empty()  # emptied after a successful sign-in, so the form leaves in the same run
    just_signed_in = not st.session_state.get("authentication_status")
    if not _show_form(auth, form):
        return None
    failed = [e for e, n in before.items() if creds["usernames"].get(e, {}).get("failed_login_attempts", 0) > n]
    if failed:
        with transaction() as conn:
            for email in failed:
                users.record_login_failure(conn, email=email, source=source)
    status = st.session_state.get("authentication_status")
    if status is False:
        st.error("Wrong email or password.")
    if not status:
        return None
    user = _validated_user()
    if user is not None:
        form.empty()
        if just_signed_in:
            _remember_browser(auth, user.email)
        return user
    _end_local_session()  # ended server-side (sign-out elsewhere, password reset, disabled account)
    st.warning("Your session has ended. Please sign in again.")
    _show_form(auth, form)
    return None


def sign_in_gate() -> User:
    """For app.py: the signed-in user, or the sign-in form alone (no page list) and the run stops."""
    user = _sign_in()
    if user is None:
        st.navigation([st.Page(_signed_out_page, title="Sign in", default=True)], position="hidden").run()
        st.stop()
    return user


def _signed_out_page() -> None:
    """The only page before sign-in; the entrypoint has already drawn the form."""


def _account_box(user: User) -> None:
    with st.sidebar:
        st.caption(f"Signed in as **{user.email}** ({user.role}, {user.plan} plan)")
        st.button("Sign out", key="studio_sign_out_button", on_click=_on_sign_out, args=(user.id,))


def require_user() -> User:
    """The signed-in user for a page; shows the sign-in form and stops the run if there is none.

    Pages call this themselves (not only app.py), so a page opened on its own is guarded too.
    """
    user = None if st.session_state.get(_SIGN_OUT) else _validated_user()
    if user is None:
        user = _sign_in()
    if user is None:
        st.stop()
    _account_box(user)
    return user


def require_admin() -> User:
    """The signed-in admin; members are refused with a clear message."""
    user = require_user()
    if not user.is_admin:
        st.error("This page is for admins only.")
        st.stop()
    return user


def flash(message: str) -> None:
    """Confirm an action across the st.rerun that follows it (a toast alone is easy to miss)."""
    st.session_state[_FLASH] = message


def show_flash() -> None:
    """Show, once, the confirmation the previous run left."""
    if message := st.session_state.pop(_FLASH, None):
        st.success(message, icon=":material/check_circle:")


def show_error(exc: StudioError) -> None:
    """Show an expected error as a message the user can act on."""
    st.error(str(exc))


@st.cache_data(ttl=600, max_entries=256, show_spinner=False)
def _object_bytes(key: str) -> bytes:
    return store().get(key)


def object_image(key: str) -> str | bytes:
    """What st.image needs for a stored object: a presigned URL (S3) or the bytes (local disk).

    Callers pass keys of rows they already read with an access check; keys embed the owner's id.
    """
    return store().download_url(key) or _object_bytes(key)


@st.cache_resource
def backend(name: str) -> ImageBackend:
    """One image backend per process and name (the Gemini client keeps its connection pool)."""
    return make_backend(settings(), name)


def _difference_caption(item: Difference, *, preview: bool) -> str:
    label = expression_label(item.expression_key) + (f" · {item.variant.replace('_', ' ')}" if item.variant else "")
    note = "offline preview" if preview and item.backend == "offline" else item.model
    cost = f" · {item.cost_credits} cr" if item.cost_credits else ""
    # Plain ✓/✗ rather than colour emoji: machines without an emoji font draw those as empty boxes.
    review = {"approved": " · **✓ approved**", "rejected": " · **✗ rejected**"}.get(item.review, "")
    return f"**{label}** · {note}{cost}{review}"


def difference_grid(items: list[Difference], *, character: Character, columns: int = 5) -> None:
    """Generated variants as a grid: image (or failure reason), label, status and cost."""
    cells = st.columns(columns)
    for index, item in enumerate(items):
        _difference_cell(cells[index % columns].container(border=True), item, character=character)


def _score_badge(cell: DeltaGenerator, item: Difference) -> None:
    if item.score is None:
        return
    info = item.score_parts or {}
    passed = info.get("passed", True)
    with cell.popover(f"{'✔' if passed else '⚠'} consistency {item.score:.0f}", width="stretch"):
        st.caption("How far the model drifted from the base (0–100), before the face was pasted back.")
        for name, value in (info.get("parts") or {}).items():
            st.progress(min(max(value / 100, 0.0), 1.0), text=f"{name.replace('_', ' ')}: {value:.0f}")
        if info.get("flags"):
            st.warning("Flags: " + ", ".join(f.replace("_", " ") for f in info["flags"]))


def _difference_cell(cell: DeltaGenerator, item: Difference, *, character: Character) -> None:
    label = expression_label(item.expression_key) + (f" · {item.variant.replace('_', ' ')}" if item.variant else "")
    if item.status == "done" and item.image_key:
        cell.image(object_image(item.image_key), width="stretch")
        cell.caption(_difference_caption(item, preview=character.base_source == "upload"))
        _score_badge(cell, item)
    elif item.status == "failed":
        cell.error(f"**{label}**: {item.failure_reason}", icon=":material/block:")
    else:
        cell.info(f"**{label}**  \n{item.status}…", icon=":material/hourglass_empty:")


def review_grid(
    items: list[Difference], *, character: Character, user: User, settings: Settings, columns: int = 5
) -> None:
    """The variant grid with approve, reject and regenerate on each item."""
    from lib.catalog import custom_expressions
    from lib.generation import (
        batches,
        jobs,  # only pages with a review grid need these
    )

    cells = st.columns(columns)
    for index, item in enumerate(items):
        cell = cells[index % columns].container(border=True)
        _difference_cell(cell, item, character=character)
        if item.status not in ("done", "failed"):
            continue
        approve, reject, again = cell.columns(3)
        review = None
        if item.status == "done" and approve.button("✓", key=f"ok-{item.id}", help="Approve",
                                                    type="primary" if item.review == "approved" else "secondary"):
            review = "approved"
        if item.status == "done" and reject.button("✗", key=f"no-{item.id}", help="Reject",
                                                   type="primary" if item.review == "rejected" else "secondary"):
            review = "rejected"
        if review:
            with transaction() as conn:
                jobs.set_review(conn, actor=user, difference_id=item.id, review=review)
            st.rerun()
        if again.button("↻", key=f"again-{item.id}", help="Regenerate (a new batch; a variant brings its expression)"):
            try:
                with transaction() as conn:
                    chosen = custom_expressions.resolve(conn, actor=user, character_id=character.id,
                                                        keys=[item.expression_key])
                    request = jobs.JobRequest(expressions=chosen, variants=[item.variant] if item.variant
                                                    else [], backend=item.backend, model=item.model,
                                                    image_size=item.image_size)
                    submitted = batches.submit(conn, actor=user, character=character, request=request,
                                               settings=settings)
                st.session_state["job"] = (str(submitted.job_id), character.id)
                st.rerun()
            except StudioError as exc:
                show_error(exc)


def words(key: str) -> str:
    """A snake_case key as words for a label: "twin_tails" → "twin tails"."""
    return key.replace("_", " ")


def expression_label(key: str) -> str:
    """"Happy 笑顔" for built-ins, the key for a character's own expressions."""
    found = expressions.LIBRARY.get(key)
    return f"{found.label_en} {found.label_ja}" if found else key.replace("_", " ")


def face_region_editor(character: Character, *, user: User) -> None:
    """Show the face region over the base and let the owner correct it."""
    from lib.catalog import characters
    from lib.consistency import face_region

    box = character.face_box or FaceBox(0, 0, character.base_width, character.base_height)
    with Image.open(io.BytesIO(store().get(character.base_key))) as base:
        st.image(face_region.overlay(base, box), width=260,
                 caption="Outside the pink box every variant stays identical to the base.")
    with st.form(f"face-{character.id}"):
        cols = st.columns(4)
        limits = (character.base_width, character.base_height, character.base_width, character.base_height)
        values = [col.number_input(name, min_value=0, max_value=limit, value=int(value), step=4)
                  for col, name, limit, value in zip(cols, ("x", "y", "width", "height"), limits, box, strict=True)]
        if st.form_submit_button("Save face region"):
            try:
                with transaction() as conn:
                    characters.set_face_box(conn, actor=user, character_id=character.id, face_box=tuple(values))
                st.rerun()
            except StudioError as exc:
                show_error(exc)
