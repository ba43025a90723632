"""The typed GraphQL context: process-wide services plus what belongs to one operation."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import strawberry
from argon2 import PasswordHasher
from graphql import GraphQLError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.websockets import WebSocket

from app.settings import Settings
from models.access import actions as access
from models.access import policies as access_policies
from models.access.roles import Role
from models.accounts.tables import Account
from models.audit.actions import Actor
from models.billing.setup import BillingSetup
from models.throttle import Throttle, ip_group
from models.timeline.reader import Reader
from models.timeline.shared import LiveReads
from models.transactions import Transactions
from resolvers.budget import Charge, PlanBudgets
from resolvers.loaders import Loaders
from resolvers.status import StatusSource
from subscriptions.dispatcher import Dispatcher
from subscriptions.events import EventLog
from subscriptions.hub import Hub


@dataclass(frozen=True, kw_only=True)
class Runtime:
    """Services built once per process by `create_app` and shared by every request."""

    settings: Settings
    # Every write goes through it, so each commit wakes the dispatcher.
    transactions: Transactions
    read_sessionmaker: async_sessionmaker[AsyncSession]
    hasher: PasswordHasher
    dispatcher: Dispatcher
    hub: Hub
    event_log: EventLog
    probes: StatusSource | None = None
    # Rate limits and budgets (models/throttle.py); rules from Settings.rate_limits.
    throttle: Throttle = field(default_factory=lambda: Throttle({}))
    # Which query budget each account's plan gives it (resolvers/budget.py).
    budgets: PlanBudgets = field(default_factory=PlanBudgets)
    billing: BillingSetup | None = None
    # Lean reads (compiled operations, shared live delivery) and the live batches over them;
    # `live` is None when LIVE_SHARED_DELIVERY is off.
    reader: Reader | None = None
    live: LiveReads | None = None
    # When each (account, field) refusal was last audited: see resolvers.staff.audit_refusal.
    refusals_audited: dict[tuple[int, str], float] = field(default_factory=dict)

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        """The write database's sessionmaker, for scripts and checks that commit nothing."""
        return self.transactions.sessionmaker


class NotAuthenticated(GraphQLError):
    def __init__(self) -> None:
        super().__init__(
            "Log in first: send `Authorization: Bearer <token>` over HTTP, or "
            "`authorization` in the WebSocket `connection_init` payload.",
            extensions={"code": "UNAUTHENTICATED"},
        )


@dataclass(kw_only=True)
class Context:
    runtime: Runtime
    request: Request | WebSocket
    request_id: str
    viewer: Account | None = None
    session_id: int | None = None
    second_factor: bool = False
    connection_params: dict[str, Any] | None = None
    _loaders: Loaders | None = field(default=None, repr=False)
    _roles: frozenset[Role] | None = field(default=None, repr=False)
    _stored_roles: frozenset[Role] | None = field(default=None, repr=False)
    # Staff reads already audited in this operation (or event): see `audited_reads`.
    _audited_reads: set[tuple[str, str, str]] | None = field(default=None, repr=False)
    # Rate-limit rules already charged for this operation's fields (schema/core/limits.py);
    # made on first use: an idle subscription's context should not carry an empty set.
    rate_limits_charged: set[str] | None = field(default=None, repr=False)
    # The operation's cost and its client's budget after it (schema/core/admission.py).
    cost: Charge | None = None

    @property
    def settings(self) -> Settings:
        return self.runtime.settings

    @property
    def viewer_id(self) -> int | None:
        return None if self.viewer is None else self.viewer.id

    @property
    def loaders(self) -> Loaders:
        if self._loaders is None:
            self._loaders = Loaders(self.runtime.read_sessionmaker, self.viewer_id)
        return self._loaders

    def for_operation(self) -> Context:
        """A copy for one operation, with its own dataloaders."""
        return dataclasses.replace(
            self,
            _loaders=None,
            _roles=None,
            _stored_roles=None,
            _audited_reads=None,
            rate_limits_charged=None,
            cost=None,
        )

    def reset_for_event(self) -> None:
        """Forget what this operation cached, before each event of a long-lived subscription:
        its loads, the viewer's roles (read again, so a role revoked meanwhile no longer
        counts) and the staff reads already audited (each event's are audited, as each HTTP
        request's are)."""
        self._loaders, self._roles, self._stored_roles = None, None, None
        self._audited_reads = None

    @property
    def audited_reads(self) -> set[tuple[str, str, str]]:
        """The staff reads already audited in this operation (resolvers/staff.py), made on
        first use: an idle subscription's context should not carry an empty set."""
        if self._audited_reads is None:
            self._audited_reads = set()
        return self._audited_reads

    def require_viewer(self) -> Account:
        if self.viewer is None:
            raise NotAuthenticated()
        return self.viewer

    async def stored_roles(self) -> frozenset[Role]:
        """The roles the viewer's account holds (USER included), whatever the session."""
        if self.viewer is None:
            return frozenset()
        if self._stored_roles is None:
            async with self.read() as session:
                self._stored_roles = await access.roles_of(session, account_id=self.viewer.id)
        return self._stored_roles

    async def roles(self) -> frozenset[Role]:
        """The roles that count in this operation: staff roles only in a session that proved
        a second factor; loaded once per operation (and per subscription event), so a
        revoked role stops at the next request or event."""
        if self._roles is None:
            stored = await self.stored_roles()
            self._roles = (
                access_policies.effective_roles(stored, second_factor=self.second_factor)
                if stored
                else frozenset()
            )
        return self._roles

    def proved_second_factor(self) -> None:
        """The session has just proved a second factor: staff roles count from now on."""
        self.second_factor, self._roles, self._stored_roles = True, None, None

    async def actor(self) -> Actor:
        """The viewer as the audit log records them."""
        viewer = self.require_viewer()
        return Actor(
            account_id=viewer.id,
            handle=viewer.handle,
            roles=tuple(sorted(r.value for r in await self.roles())),
            request_id=self.request_id,
            ip=self.client_ip,
            user_agent=self.user_agent,
        )

    @property
    def client_ip(self) -> str:
        """The client's address: set by app.middleware.ClientAddress (through trusted proxies
        only), else the peer's."""
        address = self.request.scope.get("state", {}).get("client_ip")
        if address is not None:
            return str(address)
        client = self.request.client
        return "" if client is None else client.host

    @property
    def ip_group(self) -> str:
        """The key rate limits count the client's address under (IPv6 by /64)."""
        return ip_group(self.client_ip)

    @property
    def access_reason(self) -> str:
        """Why staff are reading, from the optional `Chirp-Access-Reason` request header."""
        return self.request.headers.get("chirp-access-reason", "")[:1000]

    @property
    def user_agent(self) -> str:
        return self.request.headers.get("user-agent", "")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        async with self.runtime.read_sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """One transaction; after it commits, the dispatcher publishes its events."""
        async with self.runtime.transactions.begin() as session:
            yield session


Info = strawberry.Info[Context, None]
