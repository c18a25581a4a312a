"""Billing: plans paid through Stripe (Checkout, the Customer Portal, webhooks, reconciliation).

`gateway` is the narrow seam to stripe-python; `subscriptions` derives each user's plan from Stripe
and grants a paid invoice's credits once; `events` checks the ids a webhook event carries; `customer`
is what users see of their own billing and the Stripe pages they open; `tasks` is the procrastinate
Blueprint (reconciliation).
May import `lib.credits`, `lib.accounts` and the layers below; never the Stripe stand-in.
"""
