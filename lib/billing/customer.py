"""Billing as a user sees their own: plan, credits and subscription, the plans on offer, and the Stripe
pages (Checkout, the Customer Portal) they open.

The Stripe client is built from the settings unless the caller passes one (tests pass a gateway on the
stand-in); callers never construct SDK clients themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import Connection

from lib.billing import subscriptions
from lib.billing.gateway import BillingGateway
from lib.billing.subscriptions import BillingConfig, Plan, Summary
from lib.core.errors import ConfigError
from lib.core.settings import Settings


@dataclass(frozen=True)
class BillingView:
    summary: Summary
    catalogue: dict[str, Plan]  # every plan, by key
    configured: bool  # Stripe is set up: Checkout and the portal can open

    @property
    def current(self) -> Plan:
        return self.catalogue[self.summary.plan]

    @property
    def offers(self) -> list[Plan]:
        """The plans a user can buy through Checkout."""
        return [self.catalogue[key] for key in subscriptions.PURCHASABLE]

    @property
    def can_subscribe(self) -> bool:
        """Checkout is for users without a paid subscription; subscribers change plans in the portal."""
        sub = self.summary.subscription
        return sub is None or not sub.is_paid

    @property
    def renews(self) -> bool:
        """The subscription shown carries on past its period (it is paid and not set to cancel)."""
        sub = self.summary.subscription
        return sub is not None and sub.is_paid and not sub.cancel_at_period_end


def billing_view(conn: Connection, *, user_id: UUID, settings: Settings) -> BillingView:
    """The user's plan, credits and subscription, every plan, and whether Stripe is configured."""
    return BillingView(summary=subscriptions.summary(conn, user_id=user_id),
                       catalogue={p.key: p for p in subscriptions.plans(conn)},
                       configured=subscriptions.config_from_settings(settings) is not None)


def _stripe(settings: Settings, client: BillingGateway | None) -> tuple[BillingConfig, BillingGateway]:
    config = subscriptions.config_from_settings(settings)
    if config is None:
        raise ConfigError("billing is not configured on this studio")
    return config, client or subscriptions.client_from_settings(settings)


def checkout_link(
    conn: Connection, *, user_id: UUID, plan: str, settings: Settings, client: BillingGateway | None = None
) -> str:
    """A Stripe Checkout URL where the user subscribes to `plan` (their Stripe customer is made once)."""
    config, gateway = _stripe(settings, client)
    return subscriptions.start_checkout(conn, gateway, config=config, user_id=user_id, plan=plan)


def portal_link(
    conn: Connection, *, user_id: UUID, settings: Settings, client: BillingGateway | None = None
) -> str:
    """A Stripe Customer Portal URL where the user changes plan, updates their card or cancels."""
    config, gateway = _stripe(settings, client)
    return subscriptions.portal_url(conn, gateway, config=config, user_id=user_id)
