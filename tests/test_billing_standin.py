# ruff: noqa: F811 - the shared fixtures are imported from tests/billing_support.py
"""stripe-python 16 against the local Stripe stand-in: Checkout, the portal, customer reuse, errors."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import text

from devtools.stripe_standin import decode_form, sign
from lib.billing import subscriptions as billing
from lib.billing.gateway import StripeGateway
from lib.core.errors import BillingError, InvalidInput, WebhookRejected
from tests.billing_support import config, gateway, standin  # noqa: F401 - fixtures


def customer_of(conn, user_id) -> str | None:
    return conn.execute(text("SELECT stripe_customer_id FROM users WHERE id = :i"), {"i": user_id}).scalar()


def test_checkout_creates_a_subscription_session_for_the_plan(conn, make_user, standin, gateway, config) -> None:
    user = make_user()
    url = billing.start_checkout(conn, gateway, config=config, user_id=user.id, plan="pro")
    session = standin.objects("checkout.session")[0]
    assert url == session["url"] and url.startswith(standin.url)
    assert session["mode"] == "subscription"
    assert session["client_reference_id"] == str(user.id)
    assert session["customer"] == customer_of(conn, user.id)
    assert standin.state.private[session["id"]]["price"] == "price_pro_monthly"
    assert session["success_url"].startswith("http://studio.test/billing?checkout=success")
    assert parse_qs(urlsplit(session["cancel_url"]).query) == {"checkout": ["cancelled"]}
    customer = standin.objects("customer")[0]
    assert customer["email"] == user.email and customer["metadata"] == {"studio_user_id": str(user.id)}


def test_customer_is_created_once_and_reused_by_the_portal(conn, make_user, standin, gateway, config) -> None:
    user = make_user()
    customers_before = len(standin.objects("customer"))
    billing.start_checkout(conn, gateway, config=config, user_id=user.id, plan="basic")
    billing.start_checkout(conn, gateway, config=config, user_id=user.id, plan="pro")
    portal = billing.portal_url(conn, gateway, config=config, user_id=user.id)
    assert len(standin.objects("customer")) == customers_before + 1
    session = standin.objects("billing_portal.session")[0]
    assert portal == session["url"]
    assert session["customer"] == customer_of(conn, user.id)
    assert session["return_url"] == "http://studio.test/billing"


def test_checkout_is_refused_for_free_and_for_subscribers(conn, make_user, standin, gateway, config) -> None:
    user = make_user()
    with pytest.raises(InvalidInput, match="cannot be bought"):
        billing.start_checkout(conn, gateway, config=config, user_id=user.id, plan="free")
    billing.start_checkout(conn, gateway, config=config, user_id=user.id, plan="basic")
    sub, _ = standin.complete_checkout(standin.objects("checkout.session")[0]["id"])
    assert billing.sync_subscription(conn, gateway, config=config, subscription_id=sub["id"]).plan == "basic"
    with pytest.raises(InvalidInput, match="Manage billing"):
        billing.start_checkout(conn, gateway, config=config, user_id=user.id, plan="pro")


def test_stripe_errors_are_translated_once(standin, gateway) -> None:
    wrong_key = StripeGateway("sk_test_wrong", api_base=standin.url, max_network_retries=0)
    with pytest.raises(BillingError, match="create a customer"):
        wrong_key.create_customer(email="a@example.com", user_id="u")
    with pytest.raises(BillingError, match="No such price"):
        gateway.checkout_url(customer_id=gateway.create_customer(email="b@example.com", user_id="b"),
                             price_id="price_missing", user_id="b", success_url="http://x", cancel_url="http://x")
    assert gateway.subscription("sub_missing") is None  # a 404 is an answer, not an error
    unreachable = StripeGateway("sk_test_x", api_base="http://127.0.0.1:9", max_network_retries=0)
    with pytest.raises(BillingError, match="list subscriptions"):
        list(unreachable.subscriptions())


def test_webhook_signatures_are_checked_on_the_raw_body(standin, gateway) -> None:
    payload, header = standin.signed(standin.event("customer.subscription.updated", {"id": "sub_x"}))
    event = gateway.verify_event(payload, header, standin.webhook_secret)
    assert (event.type, event.object["id"]) == ("customer.subscription.updated", "sub_x")
    for body, signature, secret in [
        (payload, header, "whsec_other"),  # signed with another secret
        (payload.replace(b"sub_x", b"sub_y"), header, standin.webhook_secret),  # body changed after signing
        (payload, None, standin.webhook_secret),  # no signature at all
        (payload, sign(payload, standin.webhook_secret, timestamp=1_000_000), standin.webhook_secret),  # too old
    ]:
        with pytest.raises(WebhookRejected):
            gateway.verify_event(body, signature, secret)
    garbage = b"not json"
    with pytest.raises(WebhookRejected, match="malformed"):
        gateway.verify_event(garbage, sign(garbage, standin.webhook_secret), standin.webhook_secret)


def test_subscription_listing_pages_through_everything(standin, gateway, config) -> None:
    customer = gateway.create_customer(email="many@example.com", user_id="many")
    made = {standin.state.subscription(customer, "price_basic_monthly", {})["id"] for _ in range(3)}
    listed = {s.id for s in gateway.subscriptions()}
    assert made <= listed
    page = standin.state.list_subscriptions({"status": "all", "limit": "2"})
    assert len(page["data"]) == 2 and page["has_more"] is True


def test_form_decoding_matches_stripe_python_encoding() -> None:
    pairs = [("line_items[0][price]", "p"), ("line_items[0][quantity]", "1"), ("mode", "subscription"),
             ("subscription_data[metadata][studio_user_id]", "u")]
    assert decode_form(pairs) == {"line_items": [{"price": "p", "quantity": "1"}], "mode": "subscription",
                                  "subscription_data": {"metadata": {"studio_user_id": "u"}}}


def test_stripe_settings_are_all_or_nothing_and_never_placeholders() -> None:
    from lib.core.errors import ConfigError
    from lib.core.settings import load_settings

    plain = load_settings()
    assert not plain.billing_configured and billing.config_from_settings(plain) is None
    plain.check_stripe()  # no Stripe at all is fine: admins set plans by hand
    full = {"stripe_secret_key": "sk_test_123", "stripe_webhook_secret": "whsec_123",
            "stripe_price_basic": "price_b", "stripe_price_pro": "price_p"}
    ready = load_settings(**full)
    ready.check_stripe()
    assert billing.config_from_settings(ready).prices == {"basic": "price_b", "pro": "price_p"}
    for broken in ({**full, "stripe_webhook_secret": "change-me"}, {**full, "stripe_price_pro": None},
                   {"stripe_secret_key": "sk_test_123"}):
        with pytest.raises(ConfigError):
            load_settings(**broken).validate_for_startup()
