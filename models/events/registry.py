"""The outbox's registrations: its table (the jobs an event calls for belong to the domains
that act on it)."""

from __future__ import annotations

from models.events import tables
from models.registry import Domain

DOMAIN = Domain(name="events", tables=(tables,))
