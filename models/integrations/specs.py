"""What staff ask of integrations, as one typed value per request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    """A new webhook endpoint: where, which event types, what for, and why."""

    url: str
    event_types: tuple[str, ...]
    description: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class EndpointChange:
    """Changes to one webhook endpoint, and why; a field left None stays as it is."""

    endpoint_id: int
    reason: str | None
    url: str | None = None
    event_types: tuple[str, ...] | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class AccountExportSpec:
    """One chunk of the accounts export: how many rows, after which account, in which
    creation window, and why."""

    reason: str | None
    first: int
    after_id: int | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
