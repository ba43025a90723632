"""The idempotency key table at the domain tier: key checks, fingerprints, taking a key once
per scope, the claim a transaction takes first (`models.transactions.first_write`), stored
answers and the expiry of keys."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.base import utcnow
from models.idempotency import actions as idempotency
from models.idempotency.errors import KeyInUse, KeyInvalid, KeyReused
from models.idempotency.tables import IdempotencyKey
from models.transactions import Transactions, first_write

DAY = timedelta(hours=24)


def claim(
    key: str = "k", fingerprint: str = "f" * 64, scope: str = "account:1"
) -> idempotency.KeyClaim:
    return idempotency.KeyClaim(
        scope=scope,
        key=key,
        fingerprint=fingerprint,
        operation_name="Post",
        expires_at=utcnow() + DAY,
    )


async def keys(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count(IdempotencyKey.id))) or 0)


@pytest.mark.parametrize("key", ["a", "x" * 255, " !~", "8e03978e-40d5-43e8-bc93-6894a57f9324"])
def test_keys_of_printable_ascii_are_accepted(key: str) -> None:
    assert idempotency.check_key(key) == key


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "tab\t", "new\nline", "\x7f", 7, None])
def test_other_keys_are_refused(key: object) -> None:
    with pytest.raises(KeyInvalid) as refused:
        idempotency.check_key(key)

    assert refused.value.extensions == {"code": "IDEMPOTENCY_KEY_INVALID"}


def test_the_fingerprint_is_canonical_in_variables_and_tells_requests_apart() -> None:
    one = idempotency.fingerprint_of(
        operation_name="Post", document="mutation Post", variables={"a": 1, "b": [1, 2]}
    )
    reordered = idempotency.fingerprint_of(
        operation_name="Post", document="mutation Post", variables={"b": [1, 2], "a": 1}
    )
    others = {
        idempotency.fingerprint_of(
            operation_name="Other", document="mutation Post", variables={"a": 1, "b": [1, 2]}
        ),
        idempotency.fingerprint_of(
            operation_name="Post", document="mutation  Post", variables={"a": 1, "b": [1, 2]}
        ),
        idempotency.fingerprint_of(
            operation_name="Post", document="mutation Post", variables={"a": 2, "b": [1, 2]}
        ),
    }

    assert one == reordered and len(one) == 64
    assert one not in others and len(others) == 3


def test_scopes_are_the_account_or_the_client_address() -> None:
    assert idempotency.scope_of(account_id=7, client_ip="192.0.2.1") == "account:7"
    assert idempotency.scope_of(account_id=None, client_ip="192.0.2.1") == "ip:192.0.2.1"


async def test_a_key_is_taken_once_per_scope(db_session: AsyncSession) -> None:
    values = {"fingerprint": "f" * 64, "operation_name": None, "expires_at": utcnow() + DAY}
    await idempotency.take_key(db_session, scope="account:1", key="k", **values)

    with pytest.raises(KeyInUse):
        await idempotency.take_key(db_session, scope="account:1", key="k", **values)
    with pytest.raises(KeyReused):
        await idempotency.take_key(
            db_session, scope="account:1", key="k", **{**values, "fingerprint": "e" * 64}
        )
    await idempotency.take_key(db_session, scope="account:2", key="k", **values)
    await idempotency.take_key(db_session, scope="ip:192.0.2.1", key="k", **values)

    assert await keys(db_session) == 3


async def test_an_expired_key_is_not_found_and_is_taken_again(db_session: AsyncSession) -> None:
    await idempotency.take_key(
        db_session,
        scope="account:1",
        key="k",
        fingerprint="f" * 64,
        operation_name=None,
        expires_at=utcnow() - timedelta(seconds=1),
    )

    assert await idempotency.find_key(db_session, scope="account:1", key="k") is None
    await idempotency.take_key(
        db_session,
        scope="account:1",
        key="k",
        fingerprint="e" * 64,
        operation_name=None,
        expires_at=utcnow() + DAY,
    )
    found = await idempotency.find_key(db_session, scope="account:1", key="k")
    assert found is not None and found.fingerprint == "e" * 64


async def test_the_answer_is_stored_on_the_key(db_session: AsyncSession) -> None:
    row_id = await idempotency.take_key(
        db_session,
        scope="account:1",
        key="k",
        fingerprint="f" * 64,
        operation_name="Post",
        expires_at=utcnow() + DAY,
    )
    found = await idempotency.find_key(db_session, scope="account:1", key="k")
    assert found is not None and found.answer is None

    await idempotency.store_answer(db_session, key_id=row_id, answer='{"data":{}}')

    db_session.expire_all()
    found = await idempotency.find_key(db_session, scope="account:1", key="k")
    assert found is not None and found.answer == '{"data":{}}'
    assert found.answered_at is not None


async def test_the_first_committed_transaction_takes_the_claim(
    db_sessionmaker: async_sessionmaker[AsyncSession], db_session: AsyncSession
) -> None:
    transactions = Transactions(db_sessionmaker)
    held = claim()

    with first_write(held):
        async with transactions.begin():
            pass
        async with transactions.begin():
            pass

    assert held.row_id is not None
    assert await keys(db_session) == 1


async def test_a_rolled_back_transaction_leaves_the_claim_for_the_next(
    db_sessionmaker: async_sessionmaker[AsyncSession], db_session: AsyncSession
) -> None:
    transactions = Transactions(db_sessionmaker)
    held = claim()

    with first_write(held):
        with pytest.raises(RuntimeError):
            async with transactions.begin():
                raise RuntimeError("the action refused")
        assert held.row_id is None and held.wanted
        assert await keys(db_session) == 0
        async with transactions.begin():
            pass

    assert held.row_id is not None
    assert await keys(db_session) == 1


async def test_a_claim_another_request_holds_refuses_the_transaction(
    db_sessionmaker: async_sessionmaker[AsyncSession], db_session: AsyncSession
) -> None:
    transactions = Transactions(db_sessionmaker)
    with first_write(claim()):
        async with transactions.begin():
            pass
    ran = False

    with first_write(claim()), pytest.raises(KeyInUse):
        async with transactions.begin():
            ran = True
    with first_write(claim(fingerprint="e" * 64)), pytest.raises(KeyReused):
        async with transactions.begin():
            ran = True

    assert ran is False
    assert await keys(db_session) == 1


async def test_outside_an_operation_transactions_take_nothing(
    db_sessionmaker: async_sessionmaker[AsyncSession], db_session: AsyncSession
) -> None:
    async with Transactions(db_sessionmaker).begin():
        pass

    assert await keys(db_session) == 0


async def test_expired_keys_are_deleted(db_session: AsyncSession) -> None:
    now = utcnow()
    for key, expires_at in (("old", now - timedelta(seconds=1)), ("new", now + DAY)):
        await idempotency.take_key(
            db_session,
            scope="account:1",
            key=key,
            fingerprint="f" * 64,
            operation_name=None,
            expires_at=expires_at,
        )

    assert await idempotency.any_expired_key(db_session, now=now)
    assert await idempotency.delete_expired_keys(db_session, now=now) == 1
    assert not await idempotency.any_expired_key(db_session, now=now)
    remaining = (await db_session.scalars(select(IdempotencyKey.key))).all()
    assert remaining == ["new"]
