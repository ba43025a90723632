"""The key table's logic: check a key, fingerprint a request, find a key's row, take a key
in a write transaction (`KeyClaim`, handed to `models.transactions.first_write`), store the
answer, delete expired keys."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import conflict_insert, utcnow
from models.idempotency.errors import KeyInUse, KeyInvalid, KeyReused
from models.idempotency.tables import IdempotencyKey

MAX_KEY_LENGTH = 255
# Rows an expiry sweep deletes per transaction, so it never holds a long lock.
SWEEP_BATCH = 1000


def check_key(raw: object) -> str:
    """The key if it is 1 to 255 printable ASCII characters (space to tilde), else raise
    `KeyInvalid`."""
    if not isinstance(raw, str):
        raise KeyInvalid("it must be a string")
    if not raw:
        raise KeyInvalid("it is empty")
    if len(raw) > MAX_KEY_LENGTH:
        raise KeyInvalid(f"it is {len(raw)} characters long")
    if not all(" " <= char <= "~" for char in raw):
        raise KeyInvalid("it holds a character that is not printable ASCII")
    return raw


def fingerprint_of(*, operation_name: str | None, document: str, variables: Any) -> str:
    """SHA-256 (hex) of the request's canonical JSON: keys sorted, no white space, ASCII."""
    canonical = json.dumps(
        {"document": document, "operationName": operation_name, "variables": variables or {}},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def scope_of(*, account_id: int | None, client_ip: str) -> str:
    """Whose keys a key is among: the account's when signed in, else the client address's."""
    return f"account:{account_id}" if account_id is not None else f"ip:{client_ip}"


async def find_key(
    session: AsyncSession, *, scope: str, key: str, now: datetime | None = None
) -> IdempotencyKey | None:
    """The unexpired row of `key` in `scope`, if any."""
    return (
        await session.execute(
            select(IdempotencyKey).where(
                IdempotencyKey.scope == scope,
                IdempotencyKey.key == key,
                IdempotencyKey.expires_at > (now or utcnow()),
            )
        )
    ).scalar_one_or_none()


@dataclass
class KeyClaim:
    """A key the current operation wants to take in its first write transaction
    (`models.transactions.first_write`); `row_id` is set once that transaction commits."""

    scope: str
    key: str
    fingerprint: str
    operation_name: str | None
    expires_at: datetime
    row_id: int | None = None
    _taking: int | None = field(default=None, repr=False)

    @property
    def wanted(self) -> bool:
        """Whether the next write transaction should take the key."""
        return self.row_id is None and self._taking is None

    async def take(self, session: AsyncSession) -> None:
        """Insert the key's row in `session`'s transaction; raise `KeyInUse` (or `KeyReused`,
        for another request's fingerprint) when another request holds it. On PostgreSQL a
        concurrent holder's insert makes this wait for its commit or rollback."""
        self._taking = await take_key(
            session,
            scope=self.scope,
            key=self.key,
            fingerprint=self.fingerprint,
            operation_name=self.operation_name,
            expires_at=self.expires_at,
        )

    def committed(self) -> None:
        """The transaction that took the key committed: the key is this operation's."""
        if self._taking is not None:
            self.row_id, self._taking = self._taking, None

    def released(self) -> None:
        """The transaction that took the key rolled back: the next write takes it again."""
        self._taking = None


async def take_key(
    session: AsyncSession,
    *,
    scope: str,
    key: str,
    fingerprint: str,
    operation_name: str | None,
    expires_at: datetime,
) -> int:
    """Insert the row of `key` in `scope` (replacing an expired one); its id. Raises
    `KeyInUse` or `KeyReused` when an unexpired row exists."""
    now = utcnow()
    await session.execute(
        delete(IdempotencyKey).where(
            IdempotencyKey.scope == scope,
            IdempotencyKey.key == key,
            IdempotencyKey.expires_at <= now,
        )
    )
    insert = conflict_insert(session)
    row_id = (
        await session.execute(
            insert(IdempotencyKey)
            .values(
                scope=scope,
                key=key,
                fingerprint=fingerprint,
                operation_name=operation_name,
                created_at=now,
                expires_at=expires_at,
            )
            .on_conflict_do_nothing(index_elements=["scope", "key"])
            .returning(IdempotencyKey.id)
        )
    ).scalar_one_or_none()
    if row_id is not None:
        return int(row_id)
    held = await session.scalar(
        select(IdempotencyKey.fingerprint).where(
            IdempotencyKey.scope == scope, IdempotencyKey.key == key
        )
    )
    if held is not None and held != fingerprint:
        raise KeyReused()
    raise KeyInUse()


async def store_answer(session: AsyncSession, *, key_id: int, answer: str) -> None:
    """Record the answer (JSON of `data` and `errors`) of the operation holding the key."""
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == key_id)
        .values(answer=answer, answered_at=utcnow())
    )


async def any_expired_key(session: AsyncSession, *, now: datetime) -> bool:
    """Whether a key has expired (the sweep's cheap look before it writes)."""
    found = await session.scalar(
        select(IdempotencyKey.id).where(IdempotencyKey.expires_at <= now).limit(1)
    )
    return found is not None


async def delete_expired_keys(session: AsyncSession, *, now: datetime) -> int:
    """Delete up to `SWEEP_BATCH` expired keys; how many were deleted."""
    batch = select(IdempotencyKey.id).where(IdempotencyKey.expires_at <= now).limit(SWEEP_BATCH)
    ids = list((await session.scalars(batch)).all())
    if ids:
        await session.execute(delete(IdempotencyKey).where(IdempotencyKey.id.in_(ids)))
    return len(ids)
