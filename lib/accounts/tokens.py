"""Personal access tokens for the REST API: created once, stored hashed, named, revocable, optionally expiring.

A token is `msk_` and 43 URL-safe characters (256 random bits). Only its sha256 is stored — a slow hash
buys nothing for a secret that cannot be guessed — plus its first characters, so a person can tell
tokens apart in a list. A request authenticates with `Authorization: Bearer <token>`: the token must be
unrevoked, unexpired and its user active, so disabling a user stops every token at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection

from lib.accounts import users
from lib.accounts.users import User
from lib.core.errors import InvalidInput, NotAuthenticated, NotFound
from lib.core.queries import q

PREFIX = "msk_"
SHOWN = len(PREFIX) + 6  # characters kept to tell tokens apart


@dataclass(frozen=True)
class ApiToken:
    """A stored token (never its secret)."""

    id: UUID
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def status(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


def _token(row: Any) -> ApiToken:
    return ApiToken(id=row.id, name=row.name, prefix=row.prefix, created_at=row.created_at,
                    expires_at=row.expires_at, last_used_at=row.last_used_at, revoked_at=row.revoked_at)


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def create_token(
    conn: Connection, *, actor: User, name: str, expires_at: datetime | None = None, now: datetime,
) -> tuple[ApiToken, str]:
    """A new token for the actor and its secret, which is shown this once and never stored."""
    name = " ".join(name.split())
    if not name or len(name) > 100:
        raise InvalidInput("Give the token a name of 1 to 100 characters, e.g. the script that will use it.")
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("A token's expiry must be in the future.")
    secret = PREFIX + secrets.token_urlsafe(32)
    row = conn.execute(q("insert_api_token"), {"user_id": str(actor.id), "name": name,
                                               "token_hash": _digest(secret), "prefix": secret[:SHOWN],
                                               "expires_at": expires_at}).one()
    return _token(row), secret


def list_tokens(conn: Connection, *, actor: User) -> list[ApiToken]:
    """The actor's tokens, newest first."""
    return [_token(r) for r in conn.execute(q("api_tokens_of_user"), {"user_id": str(actor.id)})]


def revoke_token(conn: Connection, *, actor: User, token_id: str | UUID) -> None:
    """Revoke one of the actor's tokens at once (NotFound for anyone else's)."""
    try:
        token_id = UUID(str(token_id))
    except ValueError as exc:
        raise NotFound("no such token") from exc
    if conn.execute(q("revoke_api_token"), {"token_id": str(token_id), "user_id": str(actor.id)}).first() is None:
        raise NotFound("no such token")


def authenticate(conn: Connection, *, secret: str) -> tuple[User, UUID]:
    """The user of a live token and the token's id; NotAuthenticated otherwise (one message for every reason)."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        raise NotAuthenticated("The API token is missing, unknown, revoked or expired.")
    row = conn.execute(q("use_api_token"), {"token_hash": _digest(secret)}).one_or_none()
    if row is None:
        raise NotAuthenticated("The API token is missing, unknown, revoked or expired.")
    user = users.find_user(conn, email=row.email)
    if user is None or not user.is_active:
        raise NotAuthenticated("The API token is missing, unknown, revoked or expired.")
    return user, row.token_id
