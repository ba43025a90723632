"""What billing actions share in a process: the payment processor and the dunning rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from models.billing.processor import PaymentGateway


@dataclass(frozen=True)
class BillingSetup:
    gateway: PaymentGateway
    # Days after the first failed payment at which it is retried, in order.
    retry_days: tuple[int, ...]
    # How long after the first failure the paid plan's entitlements remain.
    grace: timedelta
    freeze_on_dispute: bool
    # A customer the processor no longer knows is made again (development, where
    # localstripe starts empty) instead of refused with PAYMENT_CUSTOMER_UNKNOWN.
    recreate_lost_customers: bool = False
