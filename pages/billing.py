"""Billing: your plan and credits; subscribe through Stripe Checkout, manage billing in Stripe's portal."""

import streamlit as st

from lib.billing import customer
from lib.core.errors import StudioError
from lib.web import auth, resources, state
from lib.web.i18n import _

user = auth.require_user()
st.title(_("Billing"))

with resources.transaction() as conn:
    view = customer.billing_view(conn, user_id=user.id, settings=resources.settings())

mine, current = view.summary, view.current
c1, c2, c3, c4 = st.columns(4)
c1.metric(_("Plan"), current.name)
c2.metric(_("Credits available"), mine.balance.available)
c3.metric(_("Held by running batches"), mine.balance.held)
c4.metric(_("Used this month"), mine.balance.used_this_period)
st.caption(_("{name}: {monthly_credits} credits a month.", name=current.name, monthly_credits=current.monthly_credits))

sub = mine.subscription
if sub is not None:
    ends = f"{sub.current_period_end:%Y-%m-%d}" if sub.current_period_end else "—"
    st.caption(_("Stripe subscription: **{status}** · {plan} · {when}", status=sub.status,
                 plan=view.catalogue[sub.plan].name,
                 when=_("renews {date}", date=ends) if view.renews else _("ends {date}", date=ends)))

if not view.configured:
    st.info(_("Billing is not configured on this studio. An admin can change your plan on the Users page."))
    st.stop()

outcome = st.query_params.get("checkout")
if outcome == "success":
    st.success(_("Thank you! Your plan changes as soon as Stripe confirms the payment (usually seconds)."))
elif outcome == "cancelled":
    st.info(_("Checkout was cancelled; nothing was charged."))


def _open(kind: str, plan: str | None = None) -> None:
    """Ask Stripe for a Checkout or portal URL; the link button below opens it."""
    try:
        with resources.transaction() as conn:
            if kind == "portal":
                url = customer.portal_link(conn, user_id=user.id, settings=resources.settings())
            else:
                url = customer.checkout_link(conn, user_id=user.id, plan=plan or "", settings=resources.settings())
        state.BILLING_LINK.set(state.BillingLink(kind=kind, plan=plan, url=url))
    except StudioError as exc:
        state.BILLING_LINK.set(None)
        state.BILLING_ERROR.set(str(exc))


if error := state.BILLING_ERROR.pop():
    st.error(error)

pending = state.BILLING_LINK.get()
if view.can_subscribe:
    st.subheader(_("Upgrade"))
    for cell, plan in zip(st.columns(len(view.offers)), view.offers, strict=True):
        box = cell.container(border=True)
        box.markdown(_("**{name}** · ${price:.0f} a month", name=plan.name, price=plan.price_usd_cents / 100))
        box.caption(_("{monthly_credits} credits a month", monthly_credits=plan.monthly_credits))
        if plan.key == mine.plan:
            box.caption(_("Your current plan."))
            continue
        verb = "Upgrade" if plan.monthly_credits > current.monthly_credits else "Switch"
        box.button(_("{verb} to {name}", verb=verb, name=plan.name), key=f"upgrade-{plan.key}", on_click=_open,
                   args=("checkout", plan.key))
        if pending and (pending.kind, pending.plan) == ("checkout", plan.key):
            box.link_button("Continue to secure checkout", pending.url, type="primary")

if mine.has_customer:
    st.subheader(_("Manage billing"))
    st.caption(_("Change plan, update your card, see invoices or cancel, in Stripe's customer portal."))
    st.button(_("Manage billing"), key="manage-billing", on_click=_open, args=("portal",))
    if pending and pending.kind == "portal":
        st.link_button(_("Open the billing portal"), pending.url, type="primary")
