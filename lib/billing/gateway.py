"""The studio's narrow seam to Stripe: a protocol, and its implementation over stripe-python 16.

Everything the billing code needs from Stripe goes through `BillingGateway`, in plain studio types
(no StripeObject escapes). Stripe's errors are translated here, once:

    stripe.SignatureVerificationError, malformed webhook body  ->  WebhookRejected
    stripe.InvalidRequestError (Stripe's 400 or 404: the request itself is wrong)  ->  BillingRefused
    any other stripe.StripeError (bad key, rate-limited, unreachable, Stripe's 5xx)  ->  BillingError

Tests point the real implementation at `devtools/stripe_standin.py` with `api_base=`; nothing is patched.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import stripe

from lib.core.errors import BillingError, BillingRefused, WebhookRejected

log = logging.getLogger(__name__)
WEBHOOK_TOLERANCE_SECONDS = 300
EVENT_ID = re.compile(r"evt_[A-Za-z0-9_]{1,250}")


@dataclass(frozen=True)
class StripeSubscription:
    """What the studio reads from a Stripe Subscription."""

    id: str
    customer_id: str
    status: str
    price_id: str | None
    current_period_end: datetime | None
    cancel_at_period_end: bool
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StripeEvent:
    """A verified webhook event; `object` is the payload's `data.object` as a plain dict."""

    id: str
    type: str
    object: dict[str, Any]


class BillingGateway(Protocol):
    def create_customer(self, *, email: str, user_id: str) -> str: ...

    def checkout_url(self, *, customer_id: str, price_id: str, user_id: str, success_url: str,
                     cancel_url: str) -> str: ...

    def portal_url(self, *, customer_id: str, return_url: str) -> str: ...

    def subscription(self, subscription_id: str) -> StripeSubscription | None: ...

    def subscriptions(self) -> Iterator[StripeSubscription]: ...

    def verify_event(self, payload: bytes, signature: str | None, secret: str) -> StripeEvent: ...


def _timestamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), UTC) if value else None


def subscription_from_dict(data: dict[str, Any]) -> StripeSubscription:
    """Read a Subscription; since API 2025-03-31 the price and period live on its items."""
    items = (data.get("items") or {}).get("data") or [{}]
    first = items[0]
    customer = data.get("customer")
    return StripeSubscription(
        id=data["id"], customer_id=customer["id"] if isinstance(customer, dict) else str(customer),
        status=str(data.get("status") or "incomplete"), price_id=(first.get("price") or {}).get("id"),
        current_period_end=_timestamp(first.get("current_period_end") or data.get("current_period_end")),
        cancel_at_period_end=bool(data.get("cancel_at_period_end")),
        metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
    )


@contextmanager
def _translated(action: str) -> Iterator[None]:
    try:
        yield
    except stripe.SignatureVerificationError as exc:
        raise WebhookRejected(f"bad Stripe signature: {exc.user_message or exc}") from None
    except stripe.InvalidRequestError as exc:  # also raised before any request, e.g. for an empty id
        log.warning("Stripe refused to %s: %s", action, exc)
        raise BillingRefused(f"Stripe refused to {action}: {exc.user_message or exc}") from exc
    except stripe.StripeError as exc:
        log.warning("Stripe failed to %s: %s", action, exc)
        raise BillingError(f"Stripe could not {action}: {exc.user_message or type(exc).__name__}") from exc


class StripeGateway:
    """`BillingGateway` over `stripe.StripeClient`; `api_base` points it at a local stand-in."""

    def __init__(self, api_key: str, *, api_base: str | None = None, max_network_retries: int = 2) -> None:
        bases: Any = {"api": api_base.rstrip("/")} if api_base else None
        self._client = stripe.StripeClient(api_key, base_addresses=bases, max_network_retries=max_network_retries)

    def create_customer(self, *, email: str, user_id: str) -> str:
        # The idempotency key makes a retry after a rolled-back transaction return the same customer.
        with _translated("create a customer"):
            customer = self._client.v1.customers.create(
                params={"email": email, "metadata": {"studio_user_id": user_id}},
                options={"idempotency_key": f"studio-customer-{user_id}"},
            )
        return customer.id

    def checkout_url(self, *, customer_id: str, price_id: str, user_id: str, success_url: str,
                     cancel_url: str) -> str:
        with _translated("start a checkout"):
            session = self._client.v1.checkout.sessions.create(params={
                "mode": "subscription", "customer": customer_id, "client_reference_id": user_id,
                "line_items": [{"price": price_id, "quantity": 1}], "success_url": success_url,
                "cancel_url": cancel_url, "subscription_data": {"metadata": {"studio_user_id": user_id}},
            })
        if not session.url:
            raise BillingError("Stripe returned a checkout session without a URL")
        return session.url

    def portal_url(self, *, customer_id: str, return_url: str) -> str:
        with _translated("open the billing portal"):
            session = self._client.v1.billing_portal.sessions.create(
                params={"customer": customer_id, "return_url": return_url})
        return session.url

    def subscription(self, subscription_id: str) -> StripeSubscription | None:
        with _translated("read a subscription"):
            try:
                found = self._client.v1.subscriptions.retrieve(subscription_id)
            except stripe.InvalidRequestError as exc:
                if exc.http_status == 404:
                    return None
                raise
        return subscription_from_dict(found.to_dict())

    def subscriptions(self) -> Iterator[StripeSubscription]:
        with _translated("list subscriptions"):
            page = self._client.v1.subscriptions.list(params={"status": "all", "limit": 100})
            for found in page.auto_paging_iter():
                yield subscription_from_dict(found.to_dict())

    def verify_event(self, payload: bytes, signature: str | None, secret: str) -> StripeEvent:
        """Check the signature on the raw body (300 s tolerance) and read the event."""
        with _translated("verify a webhook"):
            try:
                event = self._client.construct_event(payload, signature, secret, WEBHOOK_TOLERANCE_SECONDS)
            except (ValueError, UnicodeDecodeError) as exc:  # json.JSONDecodeError is a ValueError
                raise WebhookRejected(f"malformed webhook body: {exc}") from None
        data = event.to_dict()
        obj = (data.get("data") or {}).get("object")
        if not isinstance(data.get("id"), str) or not EVENT_ID.fullmatch(data["id"]) or not isinstance(obj, dict):
            raise WebhookRejected("webhook body is not a Stripe event")
        return StripeEvent(id=data["id"], type=str(data.get("type")), object=obj)

