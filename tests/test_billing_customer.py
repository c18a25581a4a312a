# ruff: noqa: F811 - the shared fixtures are imported from tests/billing_support.py
"""A user's own billing: the view of plan, credits and subscription, and Stripe links built from the settings."""

from __future__ import annotations

import pytest

from lib.billing import customer
from lib.billing import subscriptions as billing
from lib.core.errors import ConfigError, InvalidInput
from lib.core.settings import load_settings
from tests.billing_support import config, gateway, standin, stripe_settings  # noqa: F401 - fixtures


def test_the_view_without_stripe_shows_the_plan_and_offers_but_opens_nothing(conn, make_user) -> None:
    user = make_user(plan="basic")
    plain = load_settings()
    view = customer.billing_view(conn, user_id=user.id, settings=plain)
    assert (view.current.name, view.current.monthly_credits, view.summary.balance.available) == ("Basic", 300, 300)
    assert [p.key for p in view.offers] == ["basic", "pro"] and set(view.catalogue) >= {"free", "basic", "pro"}
    assert not view.configured and view.can_subscribe and not view.renews
    assert view.summary.subscription is None and not view.summary.has_customer
    for link in (lambda: customer.checkout_link(conn, user_id=user.id, plan="pro", settings=plain),
                 lambda: customer.portal_link(conn, user_id=user.id, settings=plain)):
        with pytest.raises(ConfigError, match="not configured"):
            link()


def test_links_reach_stripe_from_the_settings_and_subscribers_are_sent_to_the_portal(
    conn, make_user, standin, gateway, config
) -> None:
    user = make_user()
    settings = stripe_settings(standin, studio_public_url="http://studio.test")
    url = customer.checkout_link(conn, user_id=user.id, plan="pro", settings=settings)
    session = standin.objects("checkout.session")[0]
    assert url == session["url"] and standin.state.private[session["id"]]["price"] == "price_pro_monthly"
    assert session["success_url"].startswith("http://studio.test/billing?checkout=success")

    sub, _ = standin.complete_checkout(session["id"])
    billing.sync_subscription(conn, gateway, config=config, subscription_id=sub["id"])
    view = customer.billing_view(conn, user_id=user.id, settings=settings)
    assert view.configured and view.current.key == "pro" and view.summary.has_customer
    assert view.summary.subscription.status == "active" and view.renews and not view.can_subscribe
    with pytest.raises(InvalidInput, match="Manage billing"):
        customer.checkout_link(conn, user_id=user.id, plan="basic", settings=settings)

    portal = customer.portal_link(conn, user_id=user.id, settings=settings)
    assert portal == standin.objects("billing_portal.session")[0]["url"]
    assert standin.objects("billing_portal.session")[0]["customer"] == sub["customer"]

    standin.set_subscription(sub["id"], status="canceled")
    billing.sync_subscription(conn, gateway, config=config, subscription_id=sub["id"])
    ended = customer.billing_view(conn, user_id=user.id, settings=settings)
    assert ended.current.key == "free" and ended.can_subscribe and not ended.renews
