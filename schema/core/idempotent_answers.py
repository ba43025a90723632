"""The answer of an idempotent mutation: the claim on its key the running operation holds
(`schema/core/idempotency.py` makes it) and, once the operation is over, the answer stored
on the key's row. Apart from the extension so that `OperationScope`, whose hook closes after
errors are masked, can call `settle` without importing the extension."""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar, Token
from dataclasses import dataclass

from strawberry.types import ExecutionContext

from models import transactions
from models.idempotency import actions as idempotency

log = logging.getLogger("chirp.graphql")


@dataclass
class Pending:
    """The key the running operation may take, until `settle` stores its answer."""

    claim: idempotency.KeyClaim
    token: Token[transactions.FirstWrite | None]


_pending: ContextVar[Pending | None] = ContextVar("chirp_idempotency_pending", default=None)


def hold(pending: Pending) -> None:
    """The running operation holds `pending` until `settle`."""
    _pending.set(pending)


async def settle(execution: ExecutionContext) -> None:
    """After the operation (errors masked): store its answer on its key's row if one of its
    write transactions took the key; a failure to store leaves the key IN_USE until it
    expires, which the client is told how to handle."""
    pending = _pending.get()
    if pending is None:
        return
    _pending.set(None)
    transactions.release_first_write(pending.token)
    claim, result = pending.claim, execution.result
    if claim.row_id is None or result is None:
        return  # nothing was written: the key stays free for a corrected retry
    context = execution.context
    answer = json.dumps(
        {
            "data": result.data,
            "errors": [error.formatted for error in result.errors or ()] or None,
        },
        separators=(",", ":"),
    )
    try:
        async with context.runtime.transactions.begin() as session:
            await idempotency.store_answer(session, key_id=claim.row_id, answer=answer)
    except Exception:
        log.warning(
            "could not store the answer of idempotency key %s (request %s)",
            claim.row_id,
            getattr(context, "request_id", "-"),
            exc_info=True,
        )
