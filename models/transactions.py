"""One way to write: a transaction that commits, then wakes whoever publishes its events.

Every write action either takes a session from its caller (one transaction) or takes the
`Transactions` and opens each of its transactions through it (several, as billing does
around its Stripe calls). Either way each commit wakes the event dispatcher, so an event
recorded by any commit goes out at once rather than at the dispatcher's next sweep.

A network call (Stripe, SMTP, an outbound webhook) must never wait inside an open
transaction: it would hold row locks and a pooled connection for as long as the remote
end takes. The senders call `ensure_outside_transaction` so a call made inside one fails
loudly in tests instead of slowly in production.

An operation may ask its first write transaction to record something before anything else
(`first_write`): an idempotent mutation's key (`models.idempotency`), so that "the effect
committed" and "the key is taken" are one fact. Tasks the operation starts inherit the
request; only the operation's own writes should run while it is set."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar, Token
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

# Sessions of the write database open in this task (and in tasks it started meanwhile).
_open: ContextVar[int] = ContextVar("chirp_open_transactions", default=0)


class FirstWrite(Protocol):
    """What the first write transaction of an operation records before its own writes."""

    @property
    def wanted(self) -> bool:
        """Whether the next transaction should take it (none has, none is taking it)."""

    async def take(self, session: AsyncSession) -> None:
        """Write it in `session`'s transaction (raising refuses the transaction)."""

    def committed(self) -> None:
        """The transaction that took it committed."""

    def released(self) -> None:
        """The transaction that took it rolled back."""


_first_write: ContextVar[FirstWrite | None] = ContextVar("chirp_first_write", default=None)


def take_first_write(claim: FirstWrite) -> Token[FirstWrite | None]:
    """From now on in this task, the first write transaction to commit takes `claim`; pass
    the token to `release_first_write` when the operation is over."""
    return _first_write.set(claim)


def release_first_write(token: Token[FirstWrite | None]) -> None:
    _first_write.reset(token)


@contextmanager
def first_write(claim: FirstWrite) -> Iterator[None]:
    """While the block runs, the first write transaction to commit takes `claim`."""
    token = take_first_write(claim)
    try:
        yield
    finally:
        release_first_write(token)


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
        the commit, `on_commit` runs (so the dispatcher publishes its events). When the
        operation has a `first_write` no transaction has taken yet, this one takes it first."""
        claim = _first_write.get()
        if claim is not None and not claim.wanted:
            claim = None
        try:
            async with self.session() as session, session.begin():
                if claim is not None:
                    await claim.take(session)
                yield session
        except BaseException:
            if claim is not None:
                claim.released()
            raise
        if claim is not None:
            claim.committed()
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
