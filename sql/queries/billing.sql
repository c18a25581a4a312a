-- name: billing_user_for_update
-- Lock a user for a billing change (checkout creates at most one Stripe customer per user).
SELECT id, email, plan, stripe_customer_id FROM users WHERE id = CAST(:user_id AS uuid) FOR UPDATE;

-- name: user_id_by_customer
-- The user a Stripe customer belongs to.
SELECT id FROM users WHERE stripe_customer_id = :customer_id;

-- name: set_stripe_customer
-- Remember a user's Stripe customer; never replaces a different one already stored.
UPDATE users SET stripe_customer_id = :customer_id
WHERE id = CAST(:user_id AS uuid) AND (stripe_customer_id IS NULL OR stripe_customer_id = :customer_id)
RETURNING id;

-- name: insert_stripe_event
-- Store a webhook event once; a repeated id inserts nothing (and waits for a concurrent first delivery).
INSERT INTO stripe_events (id, type) VALUES (:event_id, :type) ON CONFLICT (id) DO NOTHING RETURNING id;

-- name: mark_stripe_event_processed
-- The studio acted on this event.
UPDATE stripe_events SET processed_at = now() WHERE id = :event_id;

-- name: mark_stripe_event_unprocessable
-- The studio can never act on this event; why (answered 200 so that Stripe stops retrying).
UPDATE stripe_events SET unprocessable_reason = :reason WHERE id = :event_id;

-- name: lock_subscription_key
-- Serialise work on one Stripe subscription: whoever holds the lock re-fetches the newest state.
SELECT pg_advisory_xact_lock(hashtextextended('stripe-subscription:' || :subscription_id, 0));

-- name: subscription_by_id
-- One stored subscription.
SELECT id, user_id, customer_id, price_id, plan, status, current_period_end, cancel_at_period_end, updated_at
FROM subscriptions WHERE id = :subscription_id;

-- name: upsert_subscription
-- Store a subscription as the Stripe API reported it.
INSERT INTO subscriptions (id, user_id, customer_id, price_id, plan, status, current_period_end,
                           cancel_at_period_end)
VALUES (:subscription_id, CAST(:user_id AS uuid), :customer_id, :price_id, :plan, :status, :current_period_end,
        :cancel_at_period_end)
ON CONFLICT (id) DO UPDATE SET
    user_id = EXCLUDED.user_id, customer_id = EXCLUDED.customer_id, price_id = EXCLUDED.price_id,
    plan = EXCLUDED.plan, status = EXCLUDED.status, current_period_end = EXCLUDED.current_period_end,
    cancel_at_period_end = EXCLUDED.cancel_at_period_end, updated_at = now();

-- name: mark_subscription_gone
-- Stripe no longer knows this subscription: treat it as canceled.
UPDATE subscriptions SET status = 'canceled', updated_at = now()
WHERE id = :subscription_id AND status <> 'canceled' RETURNING user_id;

-- name: subscriptions_of_user
-- A user's subscriptions, newest first.
SELECT id, user_id, customer_id, price_id, plan, status, current_period_end, cancel_at_period_end, updated_at
FROM subscriptions WHERE user_id = CAST(:user_id AS uuid) ORDER BY updated_at DESC, id;

-- name: plan_from_subscriptions
-- A user's current plan, how many subscriptions they have and the best plan among the paid ones.
SELECT u.plan AS current_plan, count(s.id) AS subscriptions,
       (array_agg(s.plan ORDER BY p.monthly_credits DESC)
            FILTER (WHERE s.status = ANY(CAST(:paid_statuses AS text[]))))[1] AS paid_plan
FROM users u LEFT JOIN subscriptions s ON s.user_id = u.id LEFT JOIN plans p ON p.key = s.plan
WHERE u.id = CAST(:user_id AS uuid) GROUP BY u.plan;

-- name: set_user_plan
-- Change a user's plan (billing decides it from their subscriptions).
UPDATE users SET plan = :plan WHERE id = CAST(:user_id AS uuid) AND plan <> :plan RETURNING id;

-- name: billed_subscription_ids
-- Every stored subscription id (reconciliation looks up those Stripe did not list).
SELECT id FROM subscriptions ORDER BY id;

-- name: billed_user_ids
-- Users with at least one stored subscription.
SELECT DISTINCT user_id FROM subscriptions ORDER BY user_id;

-- name: plan_catalogue
-- The plans users can be on, cheapest first.
SELECT key, name, monthly_credits, price_usd_cents FROM plans ORDER BY price_usd_cents, key;

-- name: stripe_customer_of_user
-- A user's Stripe customer id (NULL until their first checkout).
SELECT stripe_customer_id FROM users WHERE id = CAST(:user_id AS uuid);
