"""Users, passwords, roles, sign-in throttling and server-side session revocation.

Passwords are bcrypt hashes in the users table. Every data function takes the connection first
and never commits: the caller owns the transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import bcrypt
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from lib.core.errors import InvalidInput, NotFound, PermissionDenied
from lib.core.queries import q

Role = Literal["admin", "member"]
Plan = Literal["free", "basic", "pro"]
ROLES: tuple[str, ...] = ("admin", "member")
PLANS: tuple[str, ...] = ("free", "basic", "pro")
MIN_PASSWORD_LENGTH = 10
BCRYPT_ROUNDS = 12  # ~0.25 s per hash on these machines
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


@dataclass(frozen=True)
class User:
    id: UUID
    email: str
    display_name: str
    role: str
    plan: str
    is_active: bool
    sessions_valid_after: datetime
    created_at: datetime

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _user(row: Any) -> User:
    return User(
        id=row.id, email=row.email, display_name=row.display_name, role=row.role, plan=row.plan,
        is_active=row.is_active, sessions_valid_after=row.sessions_valid_after, created_at=row.created_at,
    )


def normalise_email(email: str) -> str:
    cleaned = email.strip().lower()
    if not _EMAIL.match(cleaned) or len(cleaned) > 254:
        if not cleaned:
            raise InvalidInput("Type the email address the person signs in with.")
        raise InvalidInput(f"“{email.strip()}” is not an email address: it needs a name, an @ and a domain, "
                           "like mei@studio.local.")
    return cleaned


def hash_password(password: str) -> str:
    # The sign-in form (streamlit-authenticator) strips what is typed: such a password could never sign in.
    if password != password.strip():
        raise InvalidInput("Passwords cannot start or end with a space (the sign-in form would drop it).")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"The password is too short: passwords need at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password.encode()) > 72:
        raise InvalidInput("passwords can have at most 72 bytes (a bcrypt limit)")
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(BCRYPT_ROUNDS)).decode()


def require_admin(actor: User) -> None:
    if not actor.is_admin:
        raise PermissionDenied("only admins can do this")


def create_user(
    conn: Connection, *, email: str, password: str, role: Role = "member", plan: Plan = "free",
    display_name: str | None = None,
) -> User:
    """Create a user with a credit balance row; a taken email is InvalidInput."""
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}")
    if plan not in PLANS:
        raise InvalidInput(f"plan must be one of {', '.join(PLANS)}")
    email = normalise_email(email)
    params = {
        "email": email, "display_name": (display_name or email.split("@")[0]).strip()[:100],
        "password_hash": hash_password(password), "role": role, "plan": plan,
    }
    try:
        with conn.begin_nested():
            row = conn.execute(q("insert_user"), params).one()
    except IntegrityError:
        raise InvalidInput(f"a user with email {email} already exists") from None
    conn.execute(q("insert_credits_row"), {"user_id": row.id})
    from lib.credits import ledger  # the first month's credits come with the account

    ledger.monthly_reset(conn, user_id=row.id, period=ledger.period_of(ledger.today()))
    return _user(row)


def find_user(conn: Connection, *, email: str) -> User | None:
    row = conn.execute(q("user_by_email"), {"email": email.strip().lower()}).one_or_none()
    return _user(row) if row else None


def get_user(conn: Connection, *, email: str) -> User:
    """The user with this email, or NotFound."""
    user = find_user(conn, email=email)
    if user is None:
        raise NotFound(f"no user {email.strip().lower()}")
    return user


def get_user_by_id(conn: Connection, *, user_id: UUID) -> User:
    row = conn.execute(q("user_by_id"), {"user_id": str(user_id)}).one_or_none()
    if row is None:
        raise NotFound("no such user")
    return _user(row)


def list_users(conn: Connection, *, actor: User) -> list[User]:
    require_admin(actor)
    return [_user(r) for r in conn.execute(q("list_users"))]


def count_admins(conn: Connection) -> int:
    return conn.execute(q("count_admins")).scalar_one()


def reset_password(conn: Connection, *, actor: User, user_id: UUID, new_password: str) -> None:
    """Admins reset anyone's password, users their own; all sessions of that user end."""
    if actor.id != user_id:
        require_admin(actor)
    params = {"user_id": str(user_id), "password_hash": hash_password(new_password)}
    if conn.execute(q("set_password"), params).first() is None:
        raise NotFound("no such user")


def set_active(conn: Connection, *, actor: User, user_id: UUID, active: bool) -> None:
    """Enable or disable an account (admins only; an admin cannot disable themself)."""
    require_admin(actor)
    if actor.id == user_id and not active:
        raise InvalidInput("you cannot disable your own account")
    if conn.execute(q("set_active"), {"user_id": str(user_id), "active": active}).first() is None:
        raise NotFound("no such user")


def set_role_and_plan(conn: Connection, *, actor: User, user_id: UUID, role: Role, plan: Plan) -> None:
    require_admin(actor)
    if role not in ROLES or plan not in PLANS:
        raise InvalidInput("unknown role or plan")
    if actor.id == user_id and role != "admin":
        raise InvalidInput("you cannot remove your own admin role")
    if conn.execute(q("set_role_plan"), {"user_id": str(user_id), "role": role, "plan": plan}).first() is None:
        raise NotFound("no such user")


def end_sessions(conn: Connection, *, user_id: UUID) -> datetime:
    """Void every session of the user authenticated until now (logout)."""
    row = conn.execute(q("end_sessions"), {"user_id": str(user_id)}).one_or_none()
    if row is None:
        raise NotFound("no such user")
    return row.sessions_valid_after


def session_user(conn: Connection, *, email: str, authenticated_at: datetime) -> User | None:
    """The signed-in user if the session is still valid server-side, else None."""
    user = find_user(conn, email=email)
    if user is None or not user.is_active or authenticated_at < user.sessions_valid_after:
        return None
    return user


def authenticator_credentials(conn: Connection) -> dict[str, Any]:
    """Active users in the shape streamlit-authenticator expects (pre-hashed bcrypt passwords)."""
    users = {
        r.email: {"email": r.email, "name": r.display_name, "password": r.password_hash, "roles": [r.role]}
        for r in conn.execute(q("active_credentials"))
    }
    return {"usernames": users}


def locked_accounts(conn: Connection, *, source: str, max_failures: int, window_seconds: int) -> set[str]:
    """Emails with too many recent failed sign-ins from this source.

    Failures are counted per source inside a sliding window, so a lock always ends by itself and a
    stranger elsewhere cannot lock the owner out.
    """
    params = {"source": source, "max_failures": max_failures, "window_seconds": window_seconds}
    return set(conn.execute(q("locked_accounts"), params).scalars())


def record_login_failure(conn: Connection, *, email: str, source: str) -> None:
    conn.execute(q("insert_login_failure"), {"email": email.strip().lower(), "source": source})


def clear_login_failures(conn: Connection, *, email: str, source: str) -> None:
    conn.execute(q("clear_login_failures"), {"email": email.strip().lower(), "source": source})
