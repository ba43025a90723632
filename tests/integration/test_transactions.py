"""Every write of the running application, billing's included, goes through one unit of
work whose commits wake the event dispatcher."""

from __future__ import annotations

import pytest

from app.runtime import Services
from models.billing import idempotency
from models.transactions import TransactionOpen


async def test_resolvers_jobs_and_billing_share_the_unit_that_wakes_the_dispatcher(
    services: Services,
) -> None:
    runtime = services.runtime
    assert runtime.transactions.on_commit == runtime.dispatcher.kick
    assert services.broker.state.transactions is runtime.transactions
    assert runtime.sessionmaker is runtime.transactions.sessionmaker


async def test_a_billing_commit_wakes_the_dispatcher(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    woken: list[None] = []
    monkeypatch.setattr(services.runtime.transactions, "on_commit", lambda: woken.append(None))

    await idempotency.reserve(services.runtime.transactions, key="wake-1", operation="test")

    assert len(woken) == 1


async def test_a_stripe_call_inside_a_billing_transaction_is_refused(services: Services) -> None:
    setup = services.runtime.billing
    assert setup is not None
    async with services.runtime.transactions.begin():
        with pytest.raises(TransactionOpen):
            await setup.gateway.retrieve_intent(intent_id="pi_never_sent")
