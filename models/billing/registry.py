"""Billing's registrations: its tables, the billing sweep and the reconciliation loop, its
four loaders and its error codes."""

from __future__ import annotations

from models.access import errors as access_errors
from models.billing import errors, ledger, queries, tables
from models.billing.reconcile_loop import ReconcileLoop
from models.billing.sweep import BillingSweep
from models.registry import Domain, Loader, Services, Sweep, viewerless


def _billing_sweep(services: Services) -> BillingSweep:
    return BillingSweep(services.transactions, services.read_sessionmaker, services.billing)


def _reconcile_loop(services: Services) -> ReconcileLoop:
    return ReconcileLoop(services.read_sessionmaker, services.billing.gateway)


DOMAIN = Domain(
    name="billing",
    tables=(tables, ledger),
    sweeps=(
        Sweep("billing-sweep", _billing_sweep, every="billing_sweep_interval"),
        # Lists Stripe's intents and charges: hourly with the default BILLING_SWEEP_INTERVAL.
        Sweep("billing-reconcile", _reconcile_loop, every="billing_sweep_interval", scale=60),
    ),
    error_codes=(
        errors.UnsupportedCurrency.code,
        errors.CurrencyMismatch.code,
        errors.InvalidAmount.code,
        errors.UnknownPlan.code,
        errors.UnknownCoupon.code,
        errors.CouponNotApplicable.code,
        errors.CouponExpired.code,
        errors.CouponExhausted.code,
        errors.CouponAlreadyRedeemed.code,
        errors.NoPaymentMethod.code,
        errors.PaymentMethodDeclined.code,
        errors.PaymentFailed.code,
        errors.PaymentRejected.code,
        errors.PaymentProcessorUnavailable.code,
        errors.AlreadySubscribed.code,
        errors.NotSubscribed.code,
        errors.SamePlan.code,
        errors.InvalidCountry.code,
        errors.RefundTooLarge.code,
        errors.InvoiceNotRefundable.code,
        errors.InvalidInvoiceState.code,
        errors.UnknownMeter.code,
        errors.UsageConflict.code,
    ),
    later_error_codes=(
        errors.InvalidWebhookPayload.code,
        errors.UsageOutsidePeriod.code,
        errors.RefundRefused.code,
        errors.PaymentCustomerUnknown.code,
        # Access's, added after the release: declared here, by the last domain that has
        # later codes, so that no released code moves (tests/unit/test_registry.py).
        access_errors.EnrolmentCodeRequired.code,
        access_errors.InvalidEnrolmentCode.code,
    ),
    loaders={
        "prices_by_id": Loader(viewerless(queries.prices_by_id)),
        "lines_by_invoice": Loader(viewerless(queries.lines_of), missing=()),
        "credit_notes_by_invoice": Loader(viewerless(queries.credit_notes_of), missing=()),
        "latest_invoice_by_subscription": Loader(viewerless(queries.latest_invoices)),
    },
)
