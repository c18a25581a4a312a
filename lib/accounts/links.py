"""Signed links to a user's files: what pages put in the browser instead of Streamlit's /media URLs.

A link names one thing (a stored object, or an export to build) for one signed-in session. It is a JWT
(HS256, the cookie key, audience "studio-file" so it can never pass as a sign-in cookie) that carries the
user, the time the session signed in and the thing. It is refused once it expires, once the user signs out
anywhere, resets the password or is disabled (`users.sessions_valid_after`), and for a disabled or deleted
user. Links of one session are stable for a window of `FILE_LINK_SECONDS`, so a browser caches images
across page reruns; a link lives between one and two windows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import jwt
from sqlalchemy import Connection

from lib.accounts import users
from lib.accounts.users import User
from lib.core.errors import NotFound, PermissionDenied

PATH = "/files/{token}"  # served by lib/api/files.py
AUDIENCE = "studio-file"
EXPIRED = "This link has expired or its session has ended. Reload the page to get a fresh one."


@dataclass(frozen=True)
class Link:
    """A verified link: who may have the thing, and the thing (`{"key": …}` or `{"export": {…}}`)."""

    user: User
    what: dict[str, Any]


def sign(
    secret: str, *, user_id: UUID, authenticated_at: datetime, what: Mapping[str, Any], now: datetime,
    window_seconds: int,
) -> str:
    """A token for `what`, the same for every call in one window of one session."""
    start = int(now.timestamp()) // window_seconds * window_seconds
    claims = {"aud": AUDIENCE, "sub": str(user_id), "auth": authenticated_at.astimezone(UTC).isoformat(),
              "iat": start, "exp": start + 2 * window_seconds, "what": dict(what)}
    return jwt.encode(claims, secret, algorithm="HS256")


def verify(conn: Connection, secret: str, *, token: str, now: datetime) -> Link:
    """The link's user and thing; PermissionDenied when the token is forged, expired or its session ended."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], audience=AUDIENCE,
                            options={"require": ["exp", "iat", "sub", "auth", "what"],
                                     "verify_exp": False, "verify_iat": False})  # checked against `now` below
        user_id = UUID(claims["sub"])
        authenticated_at = datetime.fromisoformat(claims["auth"])
        what = claims["what"]
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
        raise PermissionDenied(EXPIRED) from exc
    if not isinstance(what, dict) or not claims["iat"] <= now.timestamp() < claims["exp"] \
            or authenticated_at.tzinfo is None:
        raise PermissionDenied(EXPIRED)
    try:
        user = users.get_user_by_id(conn, user_id=user_id)
    except NotFound as exc:
        raise PermissionDenied(EXPIRED) from exc
    if not user.is_active or authenticated_at < user.sessions_valid_after:
        raise PermissionDenied(EXPIRED)
    return Link(user=user, what=what)
