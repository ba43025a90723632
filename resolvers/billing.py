"""Billing glue for customers: the catalogue, the viewer's (or, for billing staff, any
account's) billing, and the self-service mutations. Stripe calls happen in the domain
actions, outside any transaction of ours."""

from __future__ import annotations

from dataclasses import dataclass

from models.base import utcnow
from models.billing import customers, entitlements, payments, queries, renewals, subscriptions
from models.billing.catalogue import Entitlements, entitlements_of
from models.billing.invoicing import Draft
from models.billing.ledger import Invoice
from models.billing.setup import BillingSetup
from models.billing.specs import SubscriptionSpec
from models.billing.subscriptions import PlanChange
from models.billing.tables import BillingCustomer, PaymentMethod, Price, Subscription
from models.errors import DomainError
from models.pages import Page
from resolvers.context import Context
from resolvers.paging import BadUserInput, check_first, decode_cursor
from resolvers.staff import audit_read


def _setup(ctx: Context) -> BillingSetup:
    setup = ctx.runtime.billing
    assert setup is not None, "create_app builds the billing setup"
    return setup


async def active_prices(
    ctx: Context, *, plan_code: str | None, currency: str | None
) -> list[Price]:
    try:
        async with ctx.read() as session:
            return await queries.active_prices(session, plan_code=plan_code, currency=currency)
    except DomainError as err:
        raise BadUserInput(err.message, argument="currency") from err


async def payment_client_secret(ctx: Context, *, invoice_id: int) -> str | None:
    """For the invoice's owner: the client secret of its payment waiting for 3-D Secure."""
    viewer = ctx.viewer_id
    if viewer is None:
        return None
    async with ctx.read() as session:
        intent_id = await queries.waiting_intent(session, invoice_id=invoice_id, account_id=viewer)
    if intent_id is None:
        return None
    return await _setup(ctx).gateway.client_secret(intent_id=intent_id)


async def price(ctx: Context, *, price_id: int) -> Price | None:
    found: Price | None = await ctx.loaders.prices_by_id.load(price_id)
    return found


async def customer(ctx: Context, *, account_id: int) -> BillingCustomer | None:
    async with ctx.read() as session:
        return await queries.customer(session, account_id=account_id)


async def staff_read(ctx: Context, *, account_id: int) -> None:
    """Billing staff reading a customer's billing: audited once per operation."""
    await audit_read(ctx, what="billing", target_type="account", target_id=account_id)


async def subscription(ctx: Context, *, account_id: int) -> Subscription | None:
    async with ctx.read() as session:
        return await queries.live_subscription(session, account_id=account_id)


async def latest_invoice(ctx: Context, *, subscription_id: int) -> Invoice | None:
    found: Invoice | None = await ctx.loaders.latest_invoice_by_subscription.load(subscription_id)
    return found


async def invoices(
    ctx: Context, *, account_id: int, first: int, after: str | None
) -> Page[Invoice]:
    first, before_id = check_first(first), decode_cursor(after)
    async with ctx.read() as session:
        rows, has_next = await queries.invoice_page(
            session, account_id=account_id, first=first, before_id=before_id
        )
        lines = await queries.lines_of(session, [r.id for r in rows])
    for row in rows:
        ctx.loaders.lines_by_invoice.prime(row.id, lines.get(row.id, []))
    return Page(items=[(r.id, r) for r in rows], has_next=has_next)


async def payment_methods(ctx: Context, *, account_id: int) -> list[PaymentMethod]:
    async with ctx.read() as session:
        return await queries.payment_methods(session, account_id=account_id)


@dataclass(frozen=True, slots=True)
class CurrentPlan:
    plan_code: str
    entitlements: Entitlements


async def current_plan(ctx: Context, *, account_id: int) -> CurrentPlan:
    async with ctx.read() as session:
        code = await entitlements.current_plan(session, account_id=account_id, now=utcnow())
    return CurrentPlan(code, entitlements_of(code))


async def upcoming_invoice(ctx: Context, *, account_id: int) -> Draft | None:
    async with ctx.read() as session:
        return await renewals.upcoming_invoice(session, account_id=account_id, now=utcnow())


async def preview_plan_change(ctx: Context, *, plan_code: str, interval: str) -> PlanChange:
    viewer = ctx.require_viewer()
    async with ctx.read() as session:
        return await subscriptions.preview_change(
            session, account_id=viewer.id, plan_code=plan_code, interval=interval, now=utcnow()
        )


async def add_payment_method(
    ctx: Context, *, stripe_payment_method_id: str, make_default: bool
) -> PaymentMethod:
    """Attach the card; when it is (now) the default, the open invoices are paid with it,
    which restores a past-due or unpaid plan."""
    viewer, setup = ctx.require_viewer(), _setup(ctx)
    method = await customers.add_payment_method(
        ctx.runtime.transactions,
        setup.gateway,
        account_id=viewer.id,
        stripe_payment_method_id=stripe_payment_method_id,
        make_default=make_default,
        recreate_lost_customer=setup.recreate_lost_customers,
    )
    async with ctx.read() as session:
        found = await queries.customer(session, account_id=viewer.id)
    if found is not None and found.default_payment_method_id == method.id:
        await payments.pay_open_invoices(ctx.runtime.transactions, setup, account_id=viewer.id)
    return method


async def set_default_payment_method(ctx: Context, *, payment_method_id: int) -> PaymentMethod:
    viewer = ctx.require_viewer()
    async with ctx.write() as session:
        method = await customers.set_default_payment_method(
            session, account_id=viewer.id, payment_method_id=payment_method_id
        )
    await payments.pay_open_invoices(ctx.runtime.transactions, _setup(ctx), account_id=viewer.id)
    return method


async def remove_payment_method(ctx: Context, *, payment_method_id: int) -> PaymentMethod:
    viewer = ctx.require_viewer()
    async with ctx.write() as session:
        return await customers.remove_payment_method(
            session, account_id=viewer.id, payment_method_id=payment_method_id
        )


async def subscribe(ctx: Context, *, spec: SubscriptionSpec) -> Subscription:
    viewer = ctx.require_viewer()
    return await subscriptions.subscribe(
        ctx.runtime.transactions, _setup(ctx), account_id=viewer.id, spec=spec
    )


async def change_plan(
    ctx: Context, *, plan_code: str, interval: str
) -> tuple[Subscription, Invoice | None]:
    viewer = ctx.require_viewer()
    return await subscriptions.change_plan(
        ctx.runtime.transactions,
        _setup(ctx),
        account_id=viewer.id,
        plan_code=plan_code,
        interval=interval,
    )


async def set_cancel_at_period_end(
    ctx: Context, *, subscription_id: int, cancel: bool
) -> Subscription:
    """Cancel (or resume) the viewer's subscription named by the client, so a stale page
    cannot act on a newer subscription."""
    viewer = ctx.require_viewer()
    async with ctx.write() as session:
        return await subscriptions.set_cancel_at_period_end(
            session, account_id=viewer.id, cancel=cancel, subscription_id=subscription_id
        )
