"""Sending the due notices: one email per batch through SMTP, one signed JSON event per batch to a webhook.

Each notice is claimed under a row lock (`FOR UPDATE SKIP LOCKED`), so two workers never send the same one.
Email: `SMTP_URL` (`smtp://user:password@host:587` uses STARTTLS when the server offers it, `smtps://` is TLS
from the start; SendGrid's relay is `smtp://apikey:KEY@smtp.sendgrid.net:587`). While the server cannot be
reached or answers 4xx the mail waits and is retried with doubling delays (at most an hour apart) — it is
never dropped for an outage; a 5xx refusal gives up and says why. Webhooks: `POST` of
`{"type": "batch.ended", ...}` with `X-Studio-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">`
(the user's webhook secret), retried with doubling delays up to NOTIFY_WEBHOOK_MAX_ATTEMPTS.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import Engine

from lib.core.queries import q
from lib.core.settings import Settings
from lib.notifications.inbox import headline

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 10
MAX_DELAY_SECONDS = 3600

Mailer = Callable[[Settings, EmailMessage], None]
Poster = Callable[[str, bytes, dict[str, str]], int]


def backoff(attempts: int, first: float) -> timedelta:
    """The wait after the `attempts`-th failure: first, 2×first, 4×first, … at most an hour."""
    return timedelta(seconds=min(first * 2 ** max(0, attempts - 1), MAX_DELAY_SECONDS))


def send_email(settings: Settings, message: EmailMessage) -> None:
    """Send through SMTP_URL (smtplib); raises smtplib.SMTPException or OSError."""
    url = urlsplit(settings.smtp_url.get_secret_value() if settings.smtp_url else "")
    host, secure = url.hostname or "localhost", url.scheme == "smtps"
    port = url.port or (465 if secure else 25)
    client = (smtplib.SMTP_SSL if secure else smtplib.SMTP)(host, port, timeout=TIMEOUT_SECONDS)
    with client:
        if not secure:
            client.ehlo()
            if client.has_extn("starttls"):
                client.starttls()
                client.ehlo()
        if url.username:
            client.login(unquote(url.username), unquote(url.password or ""))
        client.send_message(message)


def post_json(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST and return the status code (urllib; raises OSError when the receiver cannot be reached)."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
            return answer.status
    except urllib.error.HTTPError as refused:
        return refused.code


def sign(secret: str, body: bytes, *, timestamp: int) -> str:
    """The X-Studio-Signature header: `t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def email_for(settings: Settings, row: Any) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = row.email
    title = headline(row.character_name, row.outcome, row.done, row.failed, row.cancelled)
    message["Subject"] = f"Miyabi Character Studio — {title}"
    message.set_content(
        f"{title}.\n\nReview the images: {settings.studio_public_url.rstrip('/')}/generate\n\n"
        "You get this email because a batch of yours ended. Turn these emails off on the Account page.\n")
    return message


def deliver_emails(engine: Engine, settings: Settings, *, mailer: Mailer = send_email, limit: int = 50) -> int:
    """Send up to `limit` due emails; returns how many were sent."""
    sent = 0
    for _ in range(limit):
        with engine.begin() as conn:
            row = conn.execute(q("claim_due_email")).one_or_none()
            if row is None:
                break
            outcome: dict[str, Any] = {"id": row.id, "attempted": 0, "next_at": None, "error": None}
            if settings.smtp_url is None:
                outcome |= {"state": "skipped", "error": "SMTP_URL is not set"}
            elif not row.notify_email or not row.is_active:
                outcome |= {"state": "skipped", "error": "emails turned off" if row.is_active else "account disabled"}
            else:
                outcome |= _send(settings, mailer, row)
                sent += outcome["state"] == "sent"
            conn.execute(q("record_email"), outcome)
    return sent


def _send(settings: Settings, mailer: Mailer, row: Any) -> dict[str, Any]:
    try:
        mailer(settings, email_for(settings, row))
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code >= 500:  # refused for good (a bad address, a policy): retrying cannot help
            return {"state": "gave_up", "attempted": 1, "error": f"SMTP {exc.smtp_code}: {exc.smtp_error!r}"[:500]}
        error = f"SMTP {exc.smtp_code}"
    except (smtplib.SMTPException, OSError) as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    else:
        return {"state": "sent", "attempted": 1}
    wait = backoff(row.attempts + 1, settings.notify_retry_seconds)
    log.warning("email for notice %s not sent (%s); next try in %s", row.id, error, wait)
    return {"state": "pending", "attempted": 1, "error": error, "next_at": datetime.now(UTC) + wait}


def event_for(settings: Settings, row: Any) -> dict[str, Any]:
    return {"type": "batch.ended", "id": f"notice_{row.id}", "batch_id": str(row.job_id),
            "character_id": str(row.character_id), "character": row.character_name, "outcome": row.outcome,
            "done": row.done, "failed": row.failed, "cancelled": row.cancelled,
            "created_at": row.created_at.isoformat(),
            "url": f"{settings.studio_public_url.rstrip('/')}/api/v1/batches/{row.job_id}"}


def deliver_webhooks(engine: Engine, settings: Settings, *, poster: Poster = post_json, limit: int = 50) -> int:
    """Deliver up to `limit` due webhook events; returns how many were accepted (2xx)."""
    delivered = 0
    for _ in range(limit):
        with engine.begin() as conn:
            row = conn.execute(q("claim_due_webhook")).one_or_none()
            if row is None:
                break
            outcome: dict[str, Any] = {"id": row.id, "attempted": 0, "next_at": None, "error": None}
            if not row.webhook_url or not row.webhook_secret or not row.is_active:
                outcome |= {"state": "skipped", "error": "no webhook" if row.is_active else "account disabled"}
            else:
                body = json.dumps(event_for(settings, row), separators=(",", ":")).encode()
                headers = {"Content-Type": "application/json", "User-Agent": "MiyabiCharacterStudio/1",
                           "X-Studio-Signature": sign(row.webhook_secret, body, timestamp=int(time.time()))}
                try:
                    status = poster(row.webhook_url, body, headers)
                    error = None if 200 <= status < 300 else f"HTTP {status}"
                except OSError as exc:
                    error = f"{type(exc).__name__}: {exc}"[:500]
                if error is None:
                    outcome |= {"state": "sent", "attempted": 1}
                    delivered += 1
                elif row.attempts + 1 >= settings.notify_webhook_max_attempts:
                    outcome |= {"state": "gave_up", "attempted": 1, "error": error}
                else:
                    wait = backoff(row.attempts + 1, settings.notify_retry_seconds)
                    outcome |= {"state": "pending", "attempted": 1, "error": error,
                                "next_at": datetime.now(UTC) + wait}
            conn.execute(q("record_webhook"), outcome)
    return delivered
