"""What a domain registers: its background jobs, periodic sweeps, error codes and loaders.

To register something, declare it in the domain's own `models/<domain>/registry.py`, as
`DOMAIN = Domain(name=..., jobs=..., jobs_for=..., sweeps=..., error_codes=..., loaders=...)`;
a brand-new domain also takes one line in `models.domains.DOMAINS`. Nothing else changes:
`app/` registers every domain's jobs with the broker, asks every domain which jobs an event
calls for, runs every domain's sweeps as periodic loops and imports every domain's tables;
`resolvers.loaders` builds each operation's DataLoaders from the declared loaders, and
`schema.core.errors.ErrorCode` lists every declared error code.

The domain layer never imports taskiq, strawberry or the settings, so everything here is a
plain async function or plain data: a job is `async (services, **kwargs)`, a sweep builds an
object with `run_once` from the process's `Services` and names the `Settings` attribute that
holds its interval, a loader is `async (session, keys, viewer_id) -> {key: value}`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import errors
from models.billing.setup import BillingSetup
from models.events.jobs import JobPolicy, Ticket
from models.integrations.retry import RetryPolicy
from models.integrations.sender import WebhookSender
from models.mail.actions import MailSender
from models.retention.rules import RetentionPolicy
from models.transactions import Transactions


class Services(Protocol):
    """What a process lends its jobs and sweeps (`app` builds it from the settings)."""

    @property
    def transactions(self) -> Transactions: ...
    @property
    def read_sessionmaker(self) -> async_sessionmaker[AsyncSession]: ...
    @property
    def webhook_sender(self) -> WebhookSender: ...
    @property
    def webhook_policy(self) -> RetryPolicy: ...
    @property
    def mail(self) -> MailSender: ...
    @property
    def billing(self) -> BillingSetup: ...
    @property
    def job_policy(self) -> JobPolicy: ...
    @property
    def retention(self) -> RetentionPolicy: ...

    async def enqueue(self, name: str, kwargs: dict[str, Any]) -> None:
        """Enqueue the job registered as `name` (labelled with the current request id)."""

    async def enqueue_ticket(self, ticket: Ticket) -> None:
        """Enqueue a job of the job ledger (labelled with its ledger id)."""


class Event(Protocol):
    """A dispatched outbox event, as a domain's `jobs_for` reads it."""

    @property
    def seq(self) -> int: ...
    @property
    def type(self) -> str: ...
    @property
    def payload(self) -> Mapping[str, Any]: ...


class Runner(Protocol):
    """One periodic step; returns how much it did."""

    async def run_once(self) -> int:
        """Do what is due now."""


Job = Callable[..., Awaitable[object]]
Enqueue = Callable[[str, dict[str, Any]], Awaitable[None]]
JobCall = tuple[str, dict[str, Any]]
Fetch = Callable[[AsyncSession, list[Any], int | None], Awaitable[Mapping[Any, Any]]]


def no_jobs(_event: Event) -> list[JobCall]:
    """The default `jobs_for`: no event calls for this domain's jobs."""
    return []


def viewerless(fetch: Callable[[AsyncSession, list[Any]], Awaitable[Mapping[Any, Any]]]) -> Fetch:
    """A batch fetch whose answer does not depend on the viewer, as a loader's `Fetch`."""

    async def fetch_for(session: AsyncSession, keys: list[Any], _viewer_id: int | None) -> Any:
        return await fetch(session, keys)

    return fetch_for


@dataclass(frozen=True)
class Sweep:
    """A periodic step every server and worker runs, under `name` in logs and task names."""

    name: str
    build: Callable[[Services], Runner]
    # Seconds, or the name of the `Settings` attribute holding them (times `scale`).
    every: str | float
    scale: float = 1.0


@dataclass(frozen=True)
class Loader:
    """A batch fetch behind one DataLoader; keys it does not return load as `missing`."""

    fetch: Fetch
    # Shared by every operation: an immutable value (None, False, an empty tuple).
    missing: object = None


@dataclass(frozen=True)
class Domain:
    """One domain's registrations (see the module docstring)."""

    name: str
    # The modules defining the domain's tables, imported so the metadata is complete.
    tables: Sequence[ModuleType] = ()
    jobs: Mapping[str, Job] = field(default_factory=dict)
    jobs_for: Callable[[Event], list[JobCall]] = no_jobs
    sweeps: Sequence[Sweep] = ()
    # The codes the domain's errors carry (`DomainError.code`), in ErrorCode's order.
    error_codes: Sequence[str] = ()
    # Codes added after ErrorCode's first layout: listed after every domain's `error_codes`
    # (in domain order), so the published enum keeps its order.
    later_error_codes: Sequence[str] = ()
    loaders: Mapping[str, Loader] = field(default_factory=dict)


# The generic errors any domain raises (models/errors.py).
SHARED = Domain(
    name="shared",
    error_codes=(
        errors.InvalidInput.code,
        errors.InvalidId.code,
        errors.NotFound.code,
        errors.Conflict.code,
        errors.NotAllowed.code,
        errors.AuthenticationFailed.code,
    ),
)
