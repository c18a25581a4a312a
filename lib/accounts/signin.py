"""Sign-in throttling: which address a sign-in comes from, and whether it may be checked at all.

Two limits apply to every password check. Per account and address: `max_failures` failures inside the
window lock that address out of that account until the oldest failure leaves the window. Per account,
from any address: `max_failures` failures lock the account for `first_lock_seconds`, twice as long on each
lock-out in a row, never longer than the window; a sign-in or an admin's unlock ends the streak. An address
that cannot be told apart from others (loopback without a trusted proxy: a local proxy, an SSH tunnel) gets
only the account limit, so nobody there can lock the owner out for longer than the current short lock.

A claim is counted as a failure before the password is checked and is cleared by a successful sign-in,
and claims on one account queue on its `login_accounts` row: simultaneous guesses are checked one by one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from lib.accounts.users import User, require_admin
from lib.core.errors import NotFound
from lib.core.queries import q

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
UNKNOWN_SOURCE = "unknown"  # loopback or no address: one source that gets only the account limit


@dataclass(frozen=True)
class Limits:
    max_failures: int
    window_seconds: int
    first_lock_seconds: int


@dataclass(frozen=True)
class Claim:
    """The answer to "may this password be checked?"; when refused, until when (None: until the window moves)."""

    allowed: bool
    locked_until: datetime | None = None


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None


def client_address(*, peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The address a request comes from: the TCP peer, or what trusted proxies say in X-Forwarded-For.

    Walks X-Forwarded-For from the right while the hop before is a trusted proxy, so a client cannot
    choose its own address. Loopback and unparsable addresses are UNKNOWN_SOURCE.
    """
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    current = _ip(peer or "")
    while current is not None and hops and any(current in net for net in trusted):
        current = _ip(hops.pop())
    if current is None or current.is_loopback:
        return UNKNOWN_SOURCE
    return str(current)


def claim_attempt(conn: Connection, *, email: str, source: str, limits: Limits) -> Claim:
    """Record one password check as a failure if it may happen at all (commit before checking the password)."""
    email = email.strip().lower()
    window = {"email": email, "window_seconds": limits.window_seconds}
    account = conn.execute(q("lock_login_account"),
                           {"email": email, "max_lock_seconds": limits.window_seconds}).one()
    if account.locked:
        return Claim(allowed=False, locked_until=account.locked_until)
    if source != UNKNOWN_SOURCE and conn.execute(
            q("count_source_failures"), window | {"source": source}).scalar_one() >= limits.max_failures:
        return Claim(allowed=False)
    conn.execute(q("insert_login_failure"), {"email": email, "source": source})
    if conn.execute(q("count_account_failures"), window).scalar_one() >= limits.max_failures:
        seconds = min(limits.first_lock_seconds * 2 ** account.lock_level, limits.window_seconds)
        conn.execute(q("lock_login_account_out"), {"email": email, "lock_seconds": seconds})
    return Claim(allowed=True)


def record_success(conn: Connection, *, email: str, source: str) -> None:
    """A right password: its claim and that address's failures go, and the account's lock-out streak ends."""
    email = email.strip().lower()
    conn.execute(q("clear_login_failures"), {"email": email, "source": source})
    conn.execute(q("reset_login_account"), {"email": email})


def locked_until(conn: Connection, *, email: str) -> datetime | None:
    """When the account's sign-in lock ends, if it has one now."""
    return conn.execute(q("sign_in_lock"), {"email": email.strip().lower()}).scalar_one_or_none()


def unlock(conn: Connection, *, actor: User, email: str) -> None:
    """Admins only: end the account's lock and forget its failed sign-ins from every address."""
    require_admin(actor)
    email = email.strip().lower()
    if conn.execute(q("user_by_email"), {"email": email}).one_or_none() is None:
        raise NotFound(f"no user {email}")
    conn.execute(q("clear_account_failures"), {"email": email})
    conn.execute(q("reset_login_account"), {"email": email})
