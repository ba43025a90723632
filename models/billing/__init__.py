"""Billing: Chirp's own engine (plans, prices, coupons, proration, usage, invoices, dunning,
entitlements), with Stripe as the payment processor only (docs/billing.md)."""
