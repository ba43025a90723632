"""Every domain's tables, imported so the metadata is complete (for Alembic and tests)."""

from models.access.tables import AccountRole, RecoveryCode, TotpCredential
from models.accounts.tables import Account, FailedLogin, LoginSession, ProfileEdit
from models.audit.tables import AuditEntry
from models.base import Base
from models.events.tables import Event
from models.integrations.tables import WebhookAttempt, WebhookDelivery, WebhookEndpoint
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
    "Block",
    "CaseNote",
    "Event",
    "FailedLogin",
    "FeedEntry",
    "Follow",
    "Like",
    "LoginSession",
    "ModerationCase",
    "Mute",
    "Post",
    "PostEdit",
    "ProfileEdit",
    "RecoveryCode",
    "Report",
    "Strike",
    "TotpCredential",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookEndpoint",
    "metadata",
]
