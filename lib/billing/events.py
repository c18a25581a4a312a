"""What the studio reads from a verified Stripe event's object: ids checked before use.

Stripe signs what it sends, yet an id that is not a string of Stripe's form (a number, a list, an object,
another kind's id) must reach neither SQL nor the API: it makes the event unprocessable. Such an event is
recorded with the reason and answered 200, because Stripe retries every other answer for days and a
retry cannot succeed; `billing reconcile` repairs whatever the event would have changed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection

from lib.core.errors import BillingRefused
from lib.core.queries import q

log = logging.getLogger(__name__)
_ID = re.compile(r"[a-z]+_[A-Za-z0-9_]{1,250}")


def stripe_id(value: Any, *, prefix: str, what: str) -> str:
    """`value` when it is a Stripe id starting `<prefix>_`; else BillingRefused."""
    if isinstance(value, str) and value.startswith(prefix + "_") and _ID.fullmatch(value):
        return value
    raise BillingRefused(f"malformed {what} id in a Stripe event: {repr(value)[:60]}")


def optional_id(value: Any, *, prefix: str, what: str) -> str | None:
    """Like `stripe_id`, but an absent id (None or empty) is None."""
    return None if value is None or value == "" else stripe_id(value, prefix=prefix, what=what)


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def invoice_subscription(invoice: Mapping[str, Any]) -> str | None:
    """The subscription an invoice bills (API 2025+: under parent.subscription_details); None if one-off."""
    details = _dict(_dict(invoice.get("parent")).get("subscription_details"))
    found = details.get("subscription") or invoice.get("subscription")
    found = found.get("id") if isinstance(found, dict) else found  # expanded
    return optional_id(found, prefix="sub", what="subscription")


def invoice_price(invoice: Mapping[str, Any]) -> str | None:
    """The Price of an invoice's first line: what was paid for, whatever the subscription is now.

    Only compared with the configured Prices, so any string will do (legacy Plan ids are free-form).
    """
    lines = _dict(invoice.get("lines")).get("data")
    for line in map(_dict, lines if isinstance(lines, list) else []):
        pricing = _dict(_dict(line.get("pricing")).get("price_details"))
        price = pricing.get("price") or _dict(line.get("price")).get("id")
        price = price.get("id") if isinstance(price, dict) else price
        if isinstance(price, str) and price:
            return price
    return None


def record_unprocessable(conn: Connection, *, event_id: str, event_type: str, reason: str) -> None:
    """Keep a stored event as one that can never be acted on, and say so in the log."""
    log.warning("Stripe event %s (%s) cannot be processed and will not be retried: %s", event_id, event_type, reason)
    conn.execute(q("mark_stripe_event_unprocessable"), {"event_id": event_id, "reason": reason[:500]})
