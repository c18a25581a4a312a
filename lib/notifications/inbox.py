"""A user's notices (shown once in the app, listed on the Account page) and their notification preferences."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

from sqlalchemy import Connection

from lib.accounts.users import User
from lib.core.errors import InvalidInput
from lib.core.queries import q


@dataclass(frozen=True)
class Notice:
    id: int
    job_id: UUID
    character_name: str
    outcome: str  # done, failed, cancelled
    done: int
    failed: int
    cancelled: int
    created_at: datetime
    row: dict[str, Any]  # the delivery state columns, for the Account page

    @property
    def headline(self) -> str:
        """"Aoi: batch done — 9 made, 1 failed" in words a person reads."""
        return headline(self.character_name, self.outcome, self.done, self.failed, self.cancelled)


@dataclass(frozen=True)
class Preferences:
    email: bool
    webhook_url: str | None
    webhook_secret: str | None


def headline(character: str, outcome: str, done: int, failed: int, cancelled: int) -> str:
    parts = [f"{done} made"] + [f"{failed} failed"] * bool(failed) + [f"{cancelled} cancelled"] * bool(cancelled)
    if outcome == "done":
        state = "batch partly failed" if failed else "batch done"
    else:
        state = {"failed": "batch failed", "cancelled": "batch cancelled"}.get(outcome, f"batch {outcome}")
    return f"{character}: {state} — {', '.join(parts)}"


def _notice(row: Any) -> Notice:
    return Notice(id=row.id, job_id=row.job_id, character_name=row.character_name, outcome=row.outcome,
                  done=row.done, failed=row.failed, cancelled=row.cancelled, created_at=row.created_at,
                  row=dict(row._mapping))


def take_unseen(conn: Connection, *, actor: User) -> list[Notice]:
    """The actor's notices not yet shown in the app, marked as shown."""
    notices = [_notice(r) for r in conn.execute(q("unseen_notifications"), {"user_id": str(actor.id)})]
    if notices:
        conn.execute(q("mark_notifications_seen"), {"user_id": str(actor.id), "ids": [n.id for n in notices]})
    return notices


def recent(conn: Connection, *, actor: User, limit: int = 50) -> list[Notice]:
    """The actor's newest notices, with their email and webhook delivery state."""
    return [_notice(r) for r in conn.execute(q("recent_notifications"), {"user_id": str(actor.id), "limit": limit})]


def preferences(conn: Connection, *, actor: User) -> Preferences:
    row = conn.execute(q("notification_preferences"), {"user_id": str(actor.id)}).one()
    return Preferences(email=row.notify_email, webhook_url=row.webhook_url, webhook_secret=row.webhook_secret)


def set_preferences(conn: Connection, *, actor: User, email: bool, webhook_url: str | None) -> Preferences:
    """Save the actor's choices; a new webhook URL gets a new signing secret, no webhook has none."""
    url = (webhook_url or "").strip() or None
    if url is not None:
        parts = urlsplit(url)
        malformed = parts.scheme not in ("http", "https") or not parts.netloc or any(c.isspace() for c in url)
        if malformed or len(url) > 2000:
            raise InvalidInput("The webhook must be an http:// or https:// URL (at most 2000 characters).")
    current = preferences(conn, actor=actor)
    secret = None if url is None else (current.webhook_secret if url == current.webhook_url and current.webhook_secret
                                       else "whsec_" + secrets.token_urlsafe(24))
    conn.execute(q("set_notification_preferences"), {"user_id": str(actor.id), "notify_email": email,
                                                     "webhook_url": url, "webhook_secret": secret})
    return Preferences(email=email, webhook_url=url, webhook_secret=secret)
