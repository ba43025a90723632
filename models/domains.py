"""The one list of domains: `app`, the loaders and `ErrorCode` iterate it. A new domain
takes one line here (its registrations live in its own `registry.py`)."""

from __future__ import annotations

from models.access import registry as access
from models.accounts import registry as accounts
from models.audit import registry as audit
from models.billing import registry as billing
from models.events import registry as events
from models.idempotency import registry as idempotency
from models.integrations import registry as integrations
from models.mail import registry as mail
from models.moderation import registry as moderation
from models.posts import registry as posts
from models.registry import SHARED, Domain
from models.retention import registry as retention
from models.social import registry as social
from models.statistics import registry as statistics
from models.timeline import registry as timeline

# The order is the order sweeps start in, an event's jobs are enqueued in, and the error
# codes are listed in.
DOMAINS: tuple[Domain, ...] = (
    SHARED,
    accounts.DOMAIN,
    social.DOMAIN,
    posts.DOMAIN,
    access.DOMAIN,
    audit.DOMAIN,
    statistics.DOMAIN,
    moderation.DOMAIN,
    integrations.DOMAIN,
    timeline.DOMAIN,
    mail.DOMAIN,
    billing.DOMAIN,
    events.DOMAIN,
    retention.DOMAIN,
    idempotency.DOMAIN,
)


def error_codes() -> list[str]:
    """Every declared error code once, in the published order of `ErrorCode`."""
    codes = [code for domain in DOMAINS for code in domain.error_codes]
    codes += [code for domain in DOMAINS for code in domain.later_error_codes]
    twice = sorted({code for code in codes if codes.count(code) > 1})
    if twice:
        raise ValueError(f"error codes declared by more than one domain: {twice}")
    return codes
