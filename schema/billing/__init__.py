"""Billing: the catalogue, a customer's subscription, invoices and payment methods, and the
billing back office (coupons, prices, refunds, revenue) for billing staff."""

from schema.billing.account_fields import AccountBillingFields
from schema.billing.mutations import BillingMutations
from schema.billing.queries import BillingQueries
from schema.billing.staff import BillingAdminMutations, BillingAdminQueries
from schema.core.surface import Surface

SURFACE = Surface(
    queries=(BillingQueries, BillingAdminQueries),
    mutations=(BillingMutations, BillingAdminMutations),
    account_fields=(AccountBillingFields,),
)
