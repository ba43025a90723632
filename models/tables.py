"""Every domain's tables, imported so the metadata is complete (for Alembic and tests)."""

from models.access.tables import AccountRole, RecoveryCode, TotpCredential
from models.accounts.tables import Account, FailedLogin, LoginSession, ProfileEdit
from models.audit.tables import AuditEntry
from models.base import Base
from models.billing.ledger import (
    CreditNote,
    Dispute,
    DocumentCounter,
    Invoice,
    InvoiceLine,
    Payment,
    StripeEvent,
)
from models.billing.tables import (
    BillingCustomer,
    Coupon,
    CouponRedemption,
    PaymentMethod,
    Plan,
    Price,
    PromotionCode,
    StripeRequest,
    Subscription,
    UsageRecord,
)
from models.events.tables import Event
from models.integrations.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from models.mail.tables import OutboundEmail
from models.moderation.tables import Appeal, CaseNote, ModerationCase, Report, Strike
from models.posts.tables import Like, Post, PostEdit
from models.social.tables import Block, Follow, Mute
from models.timeline.tables import FeedEntry

metadata = Base.metadata

__all__ = [
    "Account",
    "AccountRole",
    "Appeal",
    "AuditEntry",
    "BillingCustomer",
    "Block",
    "CaseNote",
    "Coupon",
    "CouponRedemption",
    "CreditNote",
    "Dispute",
    "DocumentCounter",
    "Event",
    "FailedLogin",
    "FeedEntry",
    "Follow",
    "Invoice",
    "InvoiceLine",
    "Like",
    "LoginSession",
    "ModerationCase",
    "Mute",
    "OutboundEmail",
    "Payment",
    "PaymentMethod",
    "Plan",
    "Post",
    "PostEdit",
    "Price",
    "ProfileEdit",
    "PromotionCode",
    "RecoveryCode",
    "Report",
    "Strike",
    "StripeEvent",
    "StripeRequest",
    "Subscription",
    "TotpCredential",
    "UsageRecord",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "metadata",
]
