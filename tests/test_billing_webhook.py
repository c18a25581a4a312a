# ruff: noqa: F811 - the shared fixtures are imported from tests/billing_support.py
"""Signed webhooks over real HTTP to lib/api/webhook.py (uvicorn), Stripe played by the stand-in."""

from __future__ import annotations

import json
import urllib.request

import pytest
from sqlalchemy import Engine, text

from devtools.stripe_standin import StripeStandin, post_webhook
from lib.accounts import users
from lib.api import webhook as webhook_app
from lib.billing import subscriptions as billing
from lib.billing.gateway import StripeGateway
from lib.core.errors import BillingError
from lib.credits import ledger
from tests import billing_support
from tests.billing_support import committed, config, gateway, new_user, standin, webhook_server  # noqa: F401

HOOK = "/api/v1/stripe/webhook"


def subscribe(engine: Engine, standin: StripeStandin, gateway, config, email: str, plan: str = "basic"):
    """A user checks out and pays at the stand-in; no webhook has arrived yet."""
    user = new_user(engine, email)
    with engine.begin() as conn:
        billing.start_checkout(conn, gateway, config=config, user_id=user.id, plan=plan)
    session = standin.objects("checkout.session")[0]
    sub, invoice = standin.complete_checkout(session["id"])
    return user, sub, invoice


def state(engine: Engine, user_id) -> dict:
    with engine.connect() as conn:
        subs = conn.execute(text("SELECT status, plan, price_id FROM subscriptions WHERE user_id = :u"),
                            {"u": user_id}).all()
        grants = conn.execute(text("SELECT amount, idempotency_key FROM credit_transactions "
                                   "WHERE user_id = :u AND kind = 'grant'"), {"u": user_id}).all()
        return {"plan": users.get_user_by_id(conn, user_id=user_id).plan,
                "available": ledger.balance(conn, user_id=user_id).available,
                "subscriptions": [tuple(r) for r in subs], "grants": [r.amount for r in grants]}


def stored_events(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM stripe_events")).scalar()


def test_bad_signatures_are_400_and_change_nothing(committed, standin, gateway, config, webhook_server) -> None:
    user, _, invoice = subscribe(committed, standin, gateway, config, "bad-sig@example.com")
    before = state(committed, user.id)
    event = standin.event("invoice.paid", invoice)
    url = webhook_server.url + HOOK
    assert standin.deliver(url, event, secret="whsec_someone_else")[0] == 400
    assert standin.deliver(url, event, timestamp=1_700_000_000)[0] == 400  # replayed long after signing
    payload, header = standin.signed(event)
    assert post_webhook(url, payload.replace(b'"paid"', b'"open"'), header)[0] == 400  # tampered
    assert post_webhook(url, payload, None)[0] == 400  # unsigned
    assert stored_events(committed) == 0
    assert state(committed, user.id) == before == {"plan": "free", "available": 30, "subscriptions": [],
                                                    "grants": []}


def test_invoice_paid_sets_the_plan_and_grants_once_even_when_replayed(committed, standin, gateway, config,
                                                                        webhook_server) -> None:
    user, sub, invoice = subscribe(committed, standin, gateway, config, "paid@example.com", plan="pro")
    event = standin.event("invoice.paid", invoice)
    url = webhook_server.url + HOOK
    status, answer = standin.deliver(url, event)
    assert (status, answer["duplicate"], answer["processed"]) == (200, False, True)
    assert standin.deliver(url, event) == (200, {"received": True, "id": event["id"], "duplicate": True,
                                                 "processed": False})
    assert state(committed, user.id) == {"plan": "pro", "available": 30 + 1500,
                                         "subscriptions": [("active", "pro", "price_pro_monthly")],
                                         "grants": [1500]}
    with committed.connect() as conn:
        row = conn.execute(text("SELECT type, processed_at IS NOT NULL FROM stripe_events WHERE id = :i"),
                           {"i": event["id"]}).one()
    assert tuple(row) == ("invoice.paid", True)
    renewal = standin.event("invoice.paid", standin.renew(sub["id"]))  # next month: a new invoice, a new grant
    assert standin.deliver(url, renewal)[0] == 200
    assert state(committed, user.id)["grants"] == [1500, 1500]


def test_one_invoice_in_two_events_grants_once(committed, standin, gateway, config, webhook_server) -> None:
    user, _, invoice = subscribe(committed, standin, gateway, config, "twice@example.com")
    url = webhook_server.url + HOOK
    first, second = standin.event("invoice.paid", invoice), standin.event("invoice.paid", invoice)
    assert first["id"] != second["id"]
    assert [standin.deliver(url, e)[0] for e in (first, second)] == [200, 200]
    assert state(committed, user.id)["grants"] == [300]
    assert stored_events(committed) == 2


def test_any_arrival_order_reaches_the_same_state(committed, standin, gateway, config, webhook_server) -> None:
    url = webhook_server.url + HOOK
    finals = []
    for email, order in [("in-order@example.com", (0, 1, 2)), ("reversed@example.com", (2, 1, 0))]:
        user, sub, invoice = subscribe(committed, standin, gateway, config, email)
        created = standin.event("customer.subscription.created", {**sub, "status": "incomplete"})  # stale snapshot
        events = [created, standin.event("invoice.paid", invoice), standin.event("customer.subscription.updated", sub)]
        assert [standin.deliver(url, events[i])[0] for i in order] == [200, 200, 200]
        finals.append(state(committed, user.id))
    assert finals[0] == finals[1] == {"plan": "basic", "available": 330, "grants": [300],
                                      "subscriptions": [("active", "basic", "price_basic_monthly")]}


def test_update_before_any_other_event_already_sets_the_plan(committed, standin, gateway, config,
                                                              webhook_server) -> None:
    user, sub, _ = subscribe(committed, standin, gateway, config, "early@example.com", plan="pro")
    assert standin.deliver(webhook_server.url + HOOK, standin.event("customer.subscription.updated", sub))[0] == 200
    assert state(committed, user.id) == {"plan": "pro", "available": 30, "grants": [],
                                         "subscriptions": [("active", "pro", "price_pro_monthly")]}


def test_deleted_subscription_returns_the_user_to_free(committed, standin, gateway, config, webhook_server) -> None:
    user, sub, invoice = subscribe(committed, standin, gateway, config, "leaving@example.com")
    url = webhook_server.url + HOOK
    standin.deliver(url, standin.event("invoice.paid", invoice))
    canceled = standin.set_subscription(sub["id"], status="canceled")
    assert standin.deliver(url, standin.event("customer.subscription.deleted", canceled))[0] == 200
    after = state(committed, user.id)
    assert (after["plan"], after["subscriptions"]) == ("free", [("canceled", "basic", "price_basic_monthly")])
    assert after["available"] == 330  # credits already granted stay until the monthly reset


@pytest.mark.parametrize("status", ["unpaid", "incomplete_expired"])
def test_unpaid_updates_also_return_to_free(committed, standin, gateway, config, webhook_server, status) -> None:
    user, sub, _ = subscribe(committed, standin, gateway, config, f"{status}@example.com")
    url = webhook_server.url + HOOK
    standin.deliver(url, standin.event("customer.subscription.updated", sub))
    assert state(committed, user.id)["plan"] == "basic"
    stale = standin.set_subscription(sub["id"], status="past_due")
    standin.deliver(url, standin.event("customer.subscription.updated", stale))
    assert state(committed, user.id)["plan"] == "basic"  # past due: Stripe is still retrying the card
    standin.set_subscription(sub["id"], status=status)
    standin.deliver(url, standin.event("customer.subscription.updated", stale))  # the payload is stale, the API not
    assert state(committed, user.id)["plan"] == "free"


def test_checkout_completed_links_a_customer_created_by_stripe(committed, standin, gateway, config,
                                                               webhook_server) -> None:
    user = new_user(committed, "guest@example.com")
    session = standin.state.checkout_session({"mode": "subscription", "client_reference_id": str(user.id),
                                              "line_items": [{"price": "price_basic_monthly"}]})
    standin.complete_checkout(session["id"])
    completed = standin.objects("checkout.session")[0]
    assert standin.deliver(webhook_server.url + HOOK, standin.event("checkout.session.completed", completed))[0] == 200
    with committed.connect() as conn:
        assert conn.execute(text("SELECT stripe_customer_id FROM users WHERE id = :u"),
                            {"u": user.id}).scalar() == completed["customer"]
    assert state(committed, user.id)["plan"] == "basic"


def test_reconcile_repairs_a_plan_changed_behind_our_back(committed, standin, gateway, config,
                                                          webhook_server) -> None:
    user, sub, invoice = subscribe(committed, standin, gateway, config, "drift@example.com")
    standin.deliver(webhook_server.url + HOOK, standin.event("invoice.paid", invoice))
    standin.set_subscription(sub["id"], price="price_pro_monthly")  # upgraded in the portal, webhook lost
    with committed.begin() as conn:
        report = billing.reconcile(conn, gateway, config=config)
    assert [(r["subscription_id"], r["user_plan_before"], r["user_plan_after"]) for r in report.repairs] == [
        (sub["id"], "basic", "pro")]
    assert state(committed, user.id)["subscriptions"] == [("active", "pro", "price_pro_monthly")]
    with committed.begin() as conn:
        conn.execute(text("UPDATE users SET plan = 'free' WHERE id = :u"), {"u": user.id})  # a hand edit
        again = billing.reconcile(conn, gateway, config=config)
    assert again.repairs == [{"user_id": str(user.id), "user_plan_before": "free", "user_plan_after": "pro"}]
    with committed.begin() as conn:
        assert billing.reconcile(conn, gateway, config=config).repairs == []
    assert state(committed, user.id)["plan"] == "pro"


def test_stripe_unreachable_rolls_back_so_the_retry_counts(committed, standin, config) -> None:
    user, sub, _ = subscribe(committed, standin, StripeGateway(standin.api_key, api_base=standin.url,
                                                               max_network_retries=0), config, "down@example.com")
    down = StripeGateway(standin.api_key, api_base="http://127.0.0.1:9", max_network_retries=0)
    payload, header = standin.signed(standin.event("customer.subscription.updated", sub))
    with pytest.raises(BillingError), committed.begin() as conn:
        billing.handle_webhook(conn, down, config=config, payload=payload, signature=header)
    assert stored_events(committed) == 0  # not marked as seen: Stripe's retry will be processed
    assert state(committed, user.id)["plan"] == "free"


def test_healthz(webhook_server) -> None:
    with urllib.request.urlopen(webhook_server.url + "/healthz", timeout=10) as response:
        assert json.loads(response.read()) == {"status": "ok", "billing": True}


def recorded(engine: Engine, event_id: str) -> tuple[bool, str | None]:
    """(processed, why it was unprocessable) of a stored event."""
    with engine.connect() as conn:
        row = conn.execute(text("SELECT processed_at IS NOT NULL, unprocessable_reason FROM stripe_events "
                                "WHERE id = :i"), {"i": event_id}).one()
    return row[0], row[1]


MALFORMED = [  # (event type, what replaces a field of the object, which field)
    ("customer.subscription.updated", 12345, "id"),
    ("customer.subscription.updated", None, "id"),
    ("customer.subscription.deleted", {"id": "sub_nested"}, "id"),
    ("invoice.paid", 12345, "subscription"),
    ("invoice.paid", ["sub_a", "sub_b"], "subscription"),
    ("checkout.session.completed", 42, "customer"),
    ("checkout.session.completed", "not-a-customer", "customer"),
    ("checkout.session.completed", {"id": 7}, "subscription"),
]


@pytest.mark.parametrize(("event_type", "value", "field"), MALFORMED)
def test_a_signed_event_with_a_malformed_id_is_recorded_not_retried(committed, standin, gateway, config,
                                                                    webhook_server, event_type, value,
                                                                    field) -> None:
    """Stripe retries every non-2xx answer for days: an event that can never be processed is answered 200."""
    user, sub, invoice = subscribe(committed, standin, gateway, config, f"malformed-{field}@example.com")
    before = state(committed, user.id)
    if event_type == "invoice.paid":
        obj = {**invoice, "parent": {"subscription_details": {"subscription": value}}}
    elif event_type == "checkout.session.completed":
        session = {**standin.objects("checkout.session")[0], "client_reference_id": str(user.id)}
        obj = {**session, field: value}
    else:
        obj = {**sub, "id": value}
    event = standin.event(event_type, obj)
    url = webhook_server.url + HOOK
    status, answer = standin.deliver(url, event)
    assert (status, answer["processed"]) == (200, False)
    assert "malformed" in answer["unprocessable"]
    processed, reason = recorded(committed, event["id"])
    assert not processed and "malformed" in reason
    assert state(committed, user.id) == before
    assert standin.deliver(url, event)[1]["duplicate"] is True  # a redelivery is not acted on again


def test_an_id_stripe_refuses_is_recorded_not_retried(committed, standin, gateway, config, webhook_server) -> None:
    user, sub, invoice = subscribe(committed, standin, gateway, config, "refused@example.com")
    standin.refuse(sub["id"], status=400, message=f"Invalid subscription: '{sub['id']}'")
    event = standin.event("invoice.paid", invoice)
    status, answer = standin.deliver(webhook_server.url + HOOK, event)
    assert (status, answer["processed"]) == (200, False)
    assert "Stripe refused" in answer["unprocessable"]
    assert recorded(committed, event["id"]) == (False, answer["unprocessable"])
    assert state(committed, user.id)["grants"] == []


def test_a_signed_event_whose_own_id_is_malformed_is_refused_unstored(committed, standin, webhook_server) -> None:
    event = standin.event("invoice.paid", {"id": "in_x", "object": "invoice"}, event_id="not-an-event")
    assert standin.deliver(webhook_server.url + HOOK, event)[0] == 400  # not a Stripe event: nothing to record
    assert stored_events(committed) == 0


def test_stripe_unreachable_answers_502_so_stripe_retries(committed, standin, gateway, config) -> None:
    _, sub, _ = subscribe(committed, standin, gateway, config, "unreachable@example.com")
    down = StripeGateway(standin.api_key, api_base="http://127.0.0.1:9", max_network_retries=0)
    event = standin.event("customer.subscription.updated", sub)
    settings = billing_support.stripe_settings(standin)
    with billing_support.serving(webhook_app.create_app(settings, engine=committed, client=down)) as server:
        assert standin.deliver(server.url + HOOK, event)[0] == 502
    assert stored_events(committed) == 0  # not recorded: the retry will be processed
    with billing_support.serving(webhook_app.create_app(settings, engine=committed, client=gateway)) as server:
        assert standin.deliver(server.url + HOOK, event)[1]["processed"] is True  # Stripe's retry
