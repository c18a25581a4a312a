"""Typed session state: every value the studio keeps between runs of one browser session, by name.

A value is spelled once here, with its type, and read and written through its `Slot`. Widget values
stay under the `key=` of their widget. streamlit-authenticator keeps its own keys (`authentication_status`,
`username`, …): they are named here too, because the sign-in gate reads them and clears them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar
from uuid import UUID

import streamlit as st

from lib.design.features import Features

T = TypeVar("T")


@dataclass(frozen=True)
class Slot(Generic[T]):
    """One session-state value: its key and what reading it gives before anything was written."""

    key: str
    default: T

    def get(self) -> T:
        return st.session_state.get(self.key, self.default)

    def set(self, value: T) -> None:
        st.session_state[self.key] = value

    def pop(self) -> T:
        """The value, removed: the next run reads the default."""
        return st.session_state.pop(self.key, self.default)

    def setdefault(self, value: T) -> T:
        """The value, storing `value` first when there is none."""
        return st.session_state.setdefault(self.key, value)


@dataclass(frozen=True)
class WatchedBatch:
    """The batch this session submitted last, and the character it is for."""

    job_id: UUID
    character_id: UUID


@dataclass(frozen=True)
class RememberCookie:
    """The re-authentication cookie this session writes for its signed-in user (token "" once written)."""

    email: str
    token: str
    expires: datetime


@dataclass(frozen=True)
class ReviewUndo:
    """The last review this session made: the reviews it replaced, and what to call it on the Undo button."""

    changes: list[tuple[UUID, str]]
    label: str


@dataclass(frozen=True)
class BillingLink:
    """A Stripe page to open: Checkout for a plan, or the customer portal (plan None)."""

    kind: str
    plan: str | None
    url: str


# The sign-in gate's own values.
AUTHENTICATED_AT: Slot[datetime | None] = Slot("studio_authenticated_at", None)
VIEWER: Slot[UUID | None] = Slot("studio_viewer", None)  # the signed-in user's id, for the file links of this run
SIGN_OUT: Slot[bool] = Slot("studio_sign_out", False)  # set by the Sign out button, acted on by the next run
REMEMBER_COOKIE: Slot[RememberCookie | None] = Slot("studio_remember_cookie", None)
FORGET_COOKIE: Slot[bool] = Slot("studio_forget_cookie", False)  # a sign-out's cookie delete not yet confirmed
SIGNED_OUT: Slot[bool] = Slot("studio_signed_out", False)  # the form says "You have signed out." until a sign-in
FLASH: Slot[str | None] = Slot("studio_flash", None)  # a confirmation shown once after the next st.rerun

# streamlit-authenticator's values (its `login` writes them; the gate reads and clears them).
AUTH_STATUS: Slot[bool | None] = Slot("authentication_status", None)  # None: no attempt; False: refused
AUTH_USERNAME: Slot[str | None] = Slot("username", None)  # the email the user signed in with
_AUTH_KEYS = ("authentication_status", "username", "name", "email", "roles")
_AUTH_LOGOUT = Slot("logout", False)

# The reader's language ("en" or "ja"), once they chose one; until then the browser's (lib/web/i18n.py).
LANGUAGE: Slot[str | None] = Slot("studio_language", None)

# Pages.
WATCHED_BATCH: Slot[WatchedBatch | None] = Slot("studio_watched_batch", None)
COMPARE: Slot[UUID | None] = Slot("studio_compare", None)  # the image open in the review's compare view
LAST_REVIEW: Slot[ReviewUndo | None] = Slot("studio_last_review", None)
NEW_CHARACTER_FORM: Slot[int] = Slot("new-character-version", 0)  # bumped after a success: a fresh, empty form
# Features Gemini described for an upload (by the uploader's file id), with a count that renews the widgets.
DESCRIBED: Slot[dict[str, tuple[int, Features]]] = Slot("new-character-described", {})
ADD_USER_FORM: Slot[int] = Slot("add-user-version", 0)  # the same for the Users page's "Add a user" form
ADJUSTMENT_KEY: Slot[str | None] = Slot("adjust-key", None)  # one idempotency key per credit adjustment
BILLING_LINK: Slot[BillingLink | None] = Slot("billing_url", None)
BILLING_ERROR: Slot[str | None] = Slot("billing_error", None)
NEW_TOKEN: Slot[str | None] = Slot("studio_new_token", None)  # an API token's secret, shown once after creating it


def forget_sign_in() -> None:
    """Clear this browser session's sign-in, as the library's own logout would (without touching its cookie)."""
    for key in _AUTH_KEYS:
        st.session_state[key] = None
    AUTHENTICATED_AT.set(None)
    VIEWER.set(None)
    REMEMBER_COOKIE.set(None)
    _AUTH_LOGOUT.set(True)


def ignore_auth_cookie() -> None:
    """Make the library's login skip its cookie for this session (as it does after its own logout)."""
    _AUTH_LOGOUT.set(True)


def watch_batch(*, job_id: UUID, character_id: UUID) -> None:
    """Show this batch on the Generate page while its character is selected."""
    WATCHED_BATCH.set(WatchedBatch(job_id=job_id, character_id=character_id))


def watched_batch(character_id: UUID) -> UUID | None:
    """The batch this session submitted last for the character, if it did."""
    watched = WATCHED_BATCH.get()
    return watched.job_id if watched is not None and watched.character_id == character_id else None
