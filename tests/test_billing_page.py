# ruff: noqa: F811 - the shared fixtures are imported from tests/billing_support.py
"""AppTest runs of the Billing page, with Stripe configured (the stand-in) and without."""

from __future__ import annotations

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from lib.billing import subscriptions
from lib.core import settings as settings_module
from tests.billing_support import config, gateway, new_user, standin  # noqa: F401 - fixtures
from tests.conftest import PASSWORD

PAGE = "../pages/billing.py"
STRIPE_ENV = ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_API_BASE", "STRIPE_PRICE_BASIC",
              "STRIPE_PRICE_PRO", "STRIPE_MAX_NETWORK_RETRIES", "STUDIO_PUBLIC_URL")


def signed_in(email: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.text_input[0].input(email)
    at.text_input[1].input(PASSWORD)
    return at.button[0].click().run()


def buttons(at: AppTest) -> list[str]:
    return [b.label for b in at.button if b.key != "studio_sign_out_button"]


@pytest.fixture
def stripe_env(committed_env, standin, monkeypatch):
    values = dict(zip(STRIPE_ENV, (standin.api_key, standin.webhook_secret, standin.url, "price_basic_monthly",
                                   "price_pro_monthly", "0", "http://studio.test"), strict=True))
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings_module.get_settings.cache_clear()
    st.cache_resource.clear()
    return committed_env


def test_without_stripe_the_page_points_to_the_admin(committed_env, engine, monkeypatch) -> None:
    for name in STRIPE_ENV:
        monkeypatch.delenv(name, raising=False)
    new_user(engine, "mei@example.com", plan="basic")
    at = signed_in("mei@example.com")
    assert not at.exception
    assert [t.value for t in at.title] == ["Billing"]
    assert [m.value for m in at.metric][:2] == ["Basic", "300"]
    assert "Billing is not configured" in at.info[0].value and "Users page" in at.info[0].value
    assert buttons(at) == [] and not at.link_button


def test_upgrade_opens_checkout_then_manage_billing_opens_the_portal(stripe_env, engine, standin, gateway,
                                                                     config) -> None:
    user = new_user(engine, "mei@example.com")
    at = signed_in("mei@example.com")
    assert not at.exception
    assert [m.value for m in at.metric] == ["Free", "30", "0", "0"]
    assert buttons(at) == ["Upgrade to Basic", "Upgrade to Pro"]
    at.button(key="upgrade-pro").click().run()
    assert not at.exception and not at.error
    session = standin.objects("checkout.session")[0]
    assert [(b.label, b.proto.url) for b in at.link_button] == [("Continue to secure checkout", session["url"])]
    assert standin.state.private[session["id"]]["price"] == "price_pro_monthly"

    sub, _ = standin.complete_checkout(session["id"])
    with engine.begin() as conn:  # what the webhook does when Stripe reports the subscription
        subscriptions.sync_subscription(conn, gateway, config=config, subscription_id=sub["id"])
    at.run()
    assert at.metric[0].value == "Pro"
    assert "active" in " ".join(c.value for c in at.caption)
    assert buttons(at) == ["Manage billing"]  # subscribers change plans in the portal, not a second checkout
    at.button(key="manage-billing").click().run()
    portal = standin.objects("billing_portal.session")[0]
    assert portal["customer"] == sub["customer"]
    assert [(b.label, b.proto.url) for b in at.link_button] == [("Open the billing portal", portal["url"])]
    assert user.id  # the same user throughout


def test_stripe_failures_are_shown_not_raised(stripe_env, engine, monkeypatch) -> None:
    new_user(engine, "mei@example.com")
    at = signed_in("mei@example.com")
    monkeypatch.setenv("STRIPE_API_BASE", "http://127.0.0.1:9")  # Stripe unreachable from now on
    settings_module.get_settings.cache_clear()
    st.cache_resource.clear()
    at.button(key="upgrade-basic").click().run()
    assert not at.exception
    assert "Stripe could not create a customer" in at.error[0].value
    assert not at.link_button
