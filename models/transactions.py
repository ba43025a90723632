"""One way to write: a transaction that commits, then wakes whoever publishes its events.

Every write action either takes a session from its caller (one transaction) or takes the
`Transactions` and opens each of its transactions through it (several, as billing does
around its Stripe calls). Either way each commit wakes the event dispatcher, so an event
recorded by any commit goes out at once rather than at the dispatcher's next sweep.

A network call (Stripe, SMTP, an outbound webhook) must never wait inside an open
transaction: it would hold row locks and a pooled connection for as long as the remote
end takes. The senders call `ensure_outside_transaction` so a call made inside one fails
loudly in tests instead of slowly in production."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

# Sessions of the write database open in this task (and in tasks it started meanwhile).
_open: ContextVar[int] = ContextVar("chirp_open_transactions", default=0)


class TransactionOpen(RuntimeError):
    """A network call was made while a database transaction was open: a bug, never a
    user error (it is not a DomainError, so it is masked like any unexpected failure)."""


def ensure_outside_transaction(call: str) -> None:
    """Refuse `call` (a network call) when a write session is open in this task."""
    if _open.get():
        raise TransactionOpen(f"{call} made inside an open database transaction")


def _nothing() -> None:
    """The default `on_commit`: nobody to wake (scripts and tests without a dispatcher)."""


class Transactions:
    """The write sessionmaker and what to do after each commit (wake the dispatcher)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        on_commit: Callable[[], None] = _nothing,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.on_commit = on_commit

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back if it raises; after
        the commit, `on_commit` runs (so the dispatcher publishes its events)."""
        async with self.session() as session, session.begin():
            yield session
        self.on_commit()

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session on the write database for reads between transactions (fresh rows,
        not a replica's); nothing is committed, and it counts as open for the guard."""
        token = _open.set(_open.get() + 1)
        try:
            async with self.sessionmaker() as session:
                yield session
        finally:
            _open.reset(token)
