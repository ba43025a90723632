"""Whether a failure is a dependency not answering (PostgreSQL or Redis down, restarting, or
a connection it dropped), as opposed to a fault in Chirp: the former is answered
`SERVICE_UNAVAILABLE` (HTTP 503, retry shortly), the latter is masked as an internal error."""

from __future__ import annotations

import errno

import asyncpg
import redis.exceptions
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

_ERRNOS = frozenset(
    {errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EPIPE}
)
_DOWN: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, aborted, broken pipe
    asyncpg.PostgresConnectionError,  # SQLSTATE class 08
    asyncpg.exceptions.OperatorInterventionError,  # 57P01-03: shut down, starting up
    asyncpg.exceptions.ConnectionDoesNotExistError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def unavailable(exc: BaseException | None) -> bool:
    """Whether `exc`, or what caused it, is a dependency that does not answer."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, _DOWN):
            return True
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return True
        if isinstance(exc, OSError) and exc.errno in _ERRNOS:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def overloaded(exc: BaseException | None) -> bool:
    """Whether a failure is this process running out of database connections (the pool's
    wait ran out), not a fault: the operation may be retried shortly."""
    return isinstance(exc, PoolTimeout | asyncpg.TooManyConnectionsError)
