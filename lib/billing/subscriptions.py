"""Plans paid through Stripe: Checkout, the Customer Portal, webhooks and reconciliation.

Stripe is the source of truth for subscriptions; the studio keeps a copy in `subscriptions` and derives
each billed user's plan from it: the best plan among their active, trialing or past-due subscriptions,
else free. Users who never had a subscription keep the plan an admin gave them.
Webhooks are verified on the raw body, stored once per event id, and never trusted for state: the
subscription is re-fetched from the API (under a per-subscription lock), so duplicates and any arrival
order converge on the same rows; an event with a malformed id is stored as unprocessable (`events`) and
answered 200, since Stripe would retry it for days. Each paid invoice grants its plan's monthly credits once
(ledger key `invoice:<id>`). `reconcile` repairs whatever drifted while webhooks were missed.

Data functions take the connection first, then the `BillingGateway`, and never commit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection

from lib.billing import events
from lib.billing.gateway import BillingGateway, StripeEvent, StripeGateway, StripeSubscription
from lib.core.errors import BillingRefused, ConfigError, InvalidInput, NotFound
from lib.core.queries import q
from lib.core.settings import Settings
from lib.credits import ledger as credits

log = logging.getLogger(__name__)

PAID_STATUSES: tuple[str, ...] = ("active", "trialing", "past_due")
PURCHASABLE: tuple[str, ...] = ("basic", "pro")
SUBSCRIPTION_EVENTS = frozenset({"customer.subscription.created", "customer.subscription.updated",
                                 "customer.subscription.deleted", "customer.subscription.paused",
                                 "customer.subscription.resumed"})


@dataclass(frozen=True)
class BillingConfig:
    """What billing needs from the settings: Price ids per plan, the studio's URL, the webhook secret."""

    prices: Mapping[str, str]
    public_url: str
    webhook_secret: str | None = None

    def price_of(self, plan: str) -> str:
        if plan not in PURCHASABLE or plan not in self.prices:
            raise InvalidInput(f"the {plan} plan cannot be bought")
        return self.prices[plan]

    def plan_of(self, price_id: str | None) -> str:
        """The plan a Stripe Price sells; an unknown Price counts as free (and is logged)."""
        for plan, price in self.prices.items():
            if price == price_id:
                return plan
        log.warning("Stripe price %s is not one of the studio's plans; treating it as free", price_id)
        return "free"


@dataclass(frozen=True)
class Subscription:
    id: str
    user_id: UUID
    customer_id: str
    price_id: str | None
    plan: str
    status: str
    current_period_end: datetime | None
    cancel_at_period_end: bool
    updated_at: datetime

    @property
    def is_paid(self) -> bool:
        return self.status in PAID_STATUSES


@dataclass(frozen=True)
class SyncResult:
    """One subscription brought in line with Stripe, and what changed."""

    subscription_id: str
    user_id: UUID
    status: str
    plan: str
    previous_status: str | None
    previous_plan: str | None
    user_plan_before: str
    user_plan_after: str

    @property
    def changed(self) -> bool:
        return (self.status, self.plan) != (self.previous_status, self.previous_plan) or (
            self.user_plan_before != self.user_plan_after)


@dataclass(frozen=True)
class WebhookResult:
    event_id: str
    event_type: str
    duplicate: bool = False
    processed: bool = False
    granted: int = 0
    sync: SyncResult | None = None
    unprocessable: str | None = None  # why the event can never be acted on


@dataclass
class ReconcileReport:
    checked: int = 0
    repairs: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"checked": self.checked, "repaired": len(self.repairs), "repairs": self.repairs}


@dataclass(frozen=True)
class Plan:
    key: str
    name: str
    monthly_credits: int
    price_usd_cents: int


@dataclass(frozen=True)
class Summary:
    """What the Billing page shows a user."""

    plan: str
    balance: credits.Balance
    subscription: Subscription | None
    has_customer: bool


def config_from_settings(settings: Settings) -> BillingConfig | None:
    """The billing configuration, or None when Stripe is not configured."""
    if not settings.billing_configured:
        return None
    secret = settings.stripe_webhook_secret.get_secret_value() if settings.stripe_webhook_secret else None
    prices = {"basic": settings.stripe_price_basic or "", "pro": settings.stripe_price_pro or ""}
    return BillingConfig(prices=prices, public_url=settings.studio_public_url.rstrip("/"), webhook_secret=secret)


def client_from_settings(settings: Settings) -> StripeGateway:
    if settings.stripe_secret_key is None:
        raise ConfigError("billing is not configured (STRIPE_SECRET_KEY is unset)")
    return StripeGateway(settings.stripe_secret_key.get_secret_value(), api_base=settings.stripe_api_base,
                         max_network_retries=settings.stripe_max_network_retries)


def _subscription(row: Any) -> Subscription:
    return Subscription(id=row.id, user_id=row.user_id, customer_id=row.customer_id, price_id=row.price_id,
                        plan=row.plan, status=row.status, current_period_end=row.current_period_end,
                        cancel_at_period_end=row.cancel_at_period_end, updated_at=row.updated_at)


def plans(conn: Connection) -> list[Plan]:
    return [Plan(r.key, r.name, r.monthly_credits, r.price_usd_cents) for r in conn.execute(q("plan_catalogue"))]


def subscriptions_of(conn: Connection, *, user_id: UUID) -> list[Subscription]:
    return [_subscription(r) for r in conn.execute(q("subscriptions_of_user"), {"user_id": str(user_id)})]


def summary(conn: Connection, *, user_id: UUID) -> Summary:
    """The user's plan, credit balance and newest subscription (a paid one first)."""
    user = conn.execute(q("user_by_id"), {"user_id": str(user_id)}).one_or_none()
    if user is None:
        raise NotFound("no such user")
    subs = sorted(subscriptions_of(conn, user_id=user_id), key=lambda s: not s.is_paid)
    customer = conn.execute(q("stripe_customer_of_user"), {"user_id": str(user_id)}).scalar()
    return Summary(plan=user.plan, balance=credits.balance(conn, user_id=user_id),
                   subscription=subs[0] if subs else None, has_customer=customer is not None)


def _customer_for(conn: Connection, client: BillingGateway, *, user_id: UUID) -> str:
    """The user's Stripe customer, created once (the user row is locked meanwhile)."""
    user = conn.execute(q("billing_user_for_update"), {"user_id": str(user_id)}).one_or_none()
    if user is None:
        raise NotFound("no such user")
    if user.stripe_customer_id:
        return user.stripe_customer_id
    customer_id = client.create_customer(email=user.email, user_id=str(user_id))
    conn.execute(q("set_stripe_customer"), {"user_id": str(user_id), "customer_id": customer_id})
    return customer_id


def start_checkout(conn: Connection, client: BillingGateway, *, config: BillingConfig, user_id: UUID,
                   plan: str) -> str:
    """A Stripe Checkout URL where the user subscribes to `plan` (basic or pro)."""
    price_id = config.price_of(plan)
    if any(s.is_paid for s in subscriptions_of(conn, user_id=user_id)):
        raise InvalidInput("You already have a subscription: change or cancel it under Manage billing.")
    customer_id = _customer_for(conn, client, user_id=user_id)
    return client.checkout_url(
        customer_id=customer_id, price_id=price_id, user_id=str(user_id),
        success_url=f"{config.public_url}/billing?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
        cancel_url=f"{config.public_url}/billing?checkout=cancelled",
    )


def portal_url(conn: Connection, client: BillingGateway, *, config: BillingConfig, user_id: UUID) -> str:
    """A Customer Portal URL where the user changes plan, payment method or cancels."""
    customer_id = _customer_for(conn, client, user_id=user_id)
    return client.portal_url(customer_id=customer_id, return_url=f"{config.public_url}/billing")


def _user_of(conn: Connection, sub: StripeSubscription) -> UUID | None:
    """The studio user of a subscription: by customer id, else by the metadata our checkout set."""
    found = conn.execute(q("user_id_by_customer"), {"customer_id": sub.customer_id}).scalar()
    if found is not None:
        return found
    claimed = _uuid(sub.metadata.get("studio_user_id"))
    if claimed is None:
        return None
    return conn.execute(q("set_stripe_customer"), {"user_id": str(claimed), "customer_id": sub.customer_id}).scalar()


def _uuid(value: Any) -> UUID | None:
    try:
        return UUID(str(value)) if value else None
    except ValueError:
        return None


def _apply_plan(conn: Connection, *, user_id: UUID) -> tuple[str, str]:
    """Set a billed user's plan from their subscriptions; returns (before, after)."""
    row = conn.execute(q("plan_from_subscriptions"),
                       {"user_id": str(user_id), "paid_statuses": list(PAID_STATUSES)}).one()
    if row.subscriptions == 0:
        return row.current_plan, row.current_plan  # never billed: the admin's choice stands
    plan = row.paid_plan or "free"
    conn.execute(q("set_user_plan"), {"user_id": str(user_id), "plan": plan})
    return row.current_plan, plan


def sync_subscription(conn: Connection, client: BillingGateway, *, config: BillingConfig,
                      subscription_id: str) -> SyncResult | None:
    """Re-fetch one subscription from Stripe, store it and re-derive its user's plan.

    None when the subscription belongs to no studio user (or Stripe and the studio both never heard of it).
    """
    conn.execute(q("lock_subscription_key"), {"subscription_id": subscription_id})
    before = conn.execute(q("subscription_by_id"), {"subscription_id": subscription_id}).one_or_none()
    sub = client.subscription(subscription_id)
    if sub is None:
        return _forget(conn, subscription_id=subscription_id, before=before)
    user_id = _user_of(conn, sub)
    if user_id is None:
        log.warning("Stripe subscription %s (customer %s) belongs to no studio user", sub.id, sub.customer_id)
        return None
    plan = config.plan_of(sub.price_id)
    conn.execute(q("upsert_subscription"), {
        "subscription_id": sub.id, "user_id": str(user_id), "customer_id": sub.customer_id, "price_id": sub.price_id,
        "plan": plan, "status": sub.status, "current_period_end": sub.current_period_end,
        "cancel_at_period_end": sub.cancel_at_period_end,
    })
    plan_before, plan_after = _apply_plan(conn, user_id=user_id)
    return SyncResult(sub.id, user_id, sub.status, plan, before.status if before else None,
                      before.plan if before else None, plan_before, plan_after)


def _forget(conn: Connection, *, subscription_id: str, before: Any) -> SyncResult | None:
    """Stripe no longer has the subscription: a stored copy becomes canceled."""
    if before is None:
        return None
    conn.execute(q("mark_subscription_gone"), {"subscription_id": subscription_id})
    plan_before, plan_after = _apply_plan(conn, user_id=before.user_id)
    return SyncResult(subscription_id, before.user_id, "canceled", before.plan, before.status, before.plan,
                      plan_before, plan_after)


def _monthly_credits(conn: Connection, plan: str) -> int:
    return next(p.monthly_credits for p in plans(conn) if p.key == plan)


def _on_invoice_paid(conn: Connection, client: BillingGateway, *, config: BillingConfig,
                     invoice: Mapping[str, Any]) -> tuple[int, SyncResult | None]:
    """Sync the invoice's subscription and grant its plan's monthly credits once per invoice."""
    invoice_id = events.stripe_id(invoice.get("id"), prefix="in", what="invoice")
    subscription_id = events.invoice_subscription(invoice)
    if not subscription_id:
        return 0, None  # a one-off invoice: nothing to do with plans
    sync = sync_subscription(conn, client, config=config, subscription_id=subscription_id)
    if sync is None:
        return 0, None
    price = events.invoice_price(invoice)
    plan = config.plan_of(price) if price else sync.plan
    if plan == "free":
        return 0, sync
    amount = _monthly_credits(conn, plan)
    done = credits.grant(conn, user_id=sync.user_id, amount=amount, key=f"invoice:{invoice_id}",
                         reason=f"{plan} plan, Stripe invoice {invoice_id}")
    return (amount if done else 0), sync


def _on_checkout_completed(conn: Connection, client: BillingGateway, *, config: BillingConfig,
                           session: Mapping[str, Any]) -> SyncResult | None:
    """Link the customer to the user who checked out, then sync the new subscription."""
    user_id = _uuid(session.get("client_reference_id"))
    customer = events.optional_id(session.get("customer"), prefix="cus", what="customer")
    if user_id and customer:
        conn.execute(q("set_stripe_customer"), {"user_id": str(user_id), "customer_id": customer})
    subscription_id = events.optional_id(session.get("subscription"), prefix="sub", what="subscription")
    if not subscription_id:
        return None
    return sync_subscription(conn, client, config=config, subscription_id=subscription_id)


def handle_webhook(conn: Connection, client: BillingGateway, *, config: BillingConfig, payload: bytes,
                   signature: str | None) -> WebhookResult:
    """Verify, store once and act on one webhook delivery.

    Raises WebhookRejected (before touching the database) when the signature or body is bad;
    BillingError when Stripe cannot be reached to re-fetch (the caller answers 5xx and Stripe retries).
    An event that can never be acted on (BillingRefused) is stored as unprocessable and returned.
    """
    if not config.webhook_secret:
        raise ConfigError("STRIPE_WEBHOOK_SECRET is unset: webhooks cannot be verified")
    event = client.verify_event(payload, signature, config.webhook_secret)
    stored = conn.execute(q("insert_stripe_event"), {"event_id": event.id, "type": event.type}).first()
    if stored is None:
        log.info("Stripe event %s (%s) was already received", event.id, event.type)
        return WebhookResult(event.id, event.type, duplicate=True)
    try:
        with conn.begin_nested():  # a refused event leaves nothing behind but its record
            return _act(conn, client, config=config, event=event)
    except BillingRefused as exc:
        events.record_unprocessable(conn, event_id=event.id, event_type=event.type, reason=str(exc))
        return WebhookResult(event.id, event.type, unprocessable=str(exc))


def _act(conn: Connection, client: BillingGateway, *, config: BillingConfig, event: StripeEvent) -> WebhookResult:
    granted, sync = 0, None
    if event.type == "invoice.paid":
        granted, sync = _on_invoice_paid(conn, client, config=config, invoice=event.object)
    elif event.type == "checkout.session.completed":
        sync = _on_checkout_completed(conn, client, config=config, session=event.object)
    elif event.type in SUBSCRIPTION_EVENTS:
        subscription_id = events.stripe_id(event.object.get("id"), prefix="sub", what="subscription")
        sync = sync_subscription(conn, client, config=config, subscription_id=subscription_id)
    else:
        return WebhookResult(event.id, event.type)
    conn.execute(q("mark_stripe_event_processed"), {"event_id": event.id})
    log.info("Stripe event %s (%s) processed: %s credits granted", event.id, event.type, granted)
    return WebhookResult(event.id, event.type, processed=True, granted=granted, sync=sync)


def _repair(result: SyncResult | None, report: ReconcileReport) -> None:
    if result is not None and result.changed:
        report.repairs.append({k: str(v) if isinstance(v, UUID) else v for k, v in asdict(result).items()})


def _drifted(conn: Connection, config: BillingConfig, sub: StripeSubscription) -> bool:
    row = conn.execute(q("subscription_by_id"), {"subscription_id": sub.id}).one_or_none()
    if row is None:
        return True
    stored = (row.status, row.price_id, row.plan, row.current_period_end, row.cancel_at_period_end)
    return stored != (sub.status, sub.price_id, config.plan_of(sub.price_id), sub.current_period_end,
                      sub.cancel_at_period_end)


def reconcile(conn: Connection, client: BillingGateway, *, config: BillingConfig) -> ReconcileReport:
    """List every subscription from Stripe and repair stored subscriptions and users' plans that drifted.

    Drifted subscriptions are re-fetched under their lock (a webhook may be newer than the listing);
    stored ones Stripe no longer lists are looked up one by one; plans edited by hand are re-derived.
    """
    report = ReconcileReport()
    listed: set[str] = set()
    for sub in client.subscriptions():
        listed.add(sub.id)
        report.checked += 1
        if _drifted(conn, config, sub):
            _repair(sync_subscription(conn, client, config=config, subscription_id=sub.id), report)
    stored: Iterable[str] = conn.execute(q("billed_subscription_ids")).scalars().all()
    for subscription_id in sorted(set(stored) - listed):
        report.checked += 1
        _repair(sync_subscription(conn, client, config=config, subscription_id=subscription_id), report)
    repaired_users = {r["user_id"] for r in report.repairs}
    for user_id in conn.execute(q("billed_user_ids")).scalars().all():
        before, after = _apply_plan(conn, user_id=user_id)
        if before != after and str(user_id) not in repaired_users:
            report.repairs.append({"user_id": str(user_id), "user_plan_before": before, "user_plan_after": after})
    log.info("Stripe reconciliation: %d checked, %d repaired", report.checked, len(report.repairs))
    return report
