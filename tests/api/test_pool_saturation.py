"""`app.db.pool_saturated`, the signal with which a process sheds new WebSockets (503 at the
handshake, app/sockets.py) while every database connection it may hold is in use."""

from __future__ import annotations

import contextlib

from app import db
from app.settings import Settings


async def test_a_pool_is_saturated_exactly_while_every_connection_is_checked_out(
    settings: Settings,
) -> None:
    engine = db.create_engine(Settings(**{**settings.__dict__, "db_pool_size": 4}))
    pool = engine.sync_engine.pool
    most = pool.size() + max(0, pool._max_overflow)  # type: ignore[attr-defined]
    try:
        async with contextlib.AsyncExitStack() as stack:
            held = []
            for _ in range(most):
                assert not db.pool_saturated(engine)
                held.append(await stack.enter_async_context(engine.connect()))
            saturated = db.pool_saturated(engine)
        released = db.pool_saturated(engine)
    finally:
        await engine.dispose()

    assert len(held) == most
    assert saturated is True
    assert released is False
