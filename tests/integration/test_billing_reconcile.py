"""Reconciliation against a real localstripe: a clean state reports nothing; a refund made in
Stripe, a status Chirp has wrong, an intent Chirp never recorded and one Stripe does not have
are each reported; `chirp billing reconcile` exits 1 on them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from app.runtime import Services
from models.base import utcnow
from models.billing import reconcile
from models.billing.ledger import Payment
from models.billing.reconcile import MismatchKind
from tests.support.backends import Database
from tests.support.billing import (
    billing_of,
    localstripe_settings,  # noqa: F401 - `settings`
    paid_subscriber,
    refund_in_stripe,
)
from tests.support.cli import run_cli_async
from tests.support.graphql import GraphQLClient
from tests.support.stripe import LocalStripe

pytestmark = pytest.mark.processes


async def _reconcile(services: Services) -> list[reconcile.Mismatch]:
    return await reconcile.reconcile_payments(
        services.runtime.read_sessionmaker,
        billing_of(services).gateway,
        now=utcnow(),
        settle=timedelta(0),
    )


async def test_a_clean_state_reports_nothing(
    gql: GraphQLClient, services: Services, localstripe: LocalStripe
) -> None:
    await paid_subscriber(services, gql, localstripe, "clara")
    await paid_subscriber(services, gql, localstripe, "colin")

    assert await _reconcile(services) == []


async def test_recent_changes_are_left_for_their_webhooks(
    gql: GraphQLClient, services: Services, localstripe: LocalStripe
) -> None:
    sub = await paid_subscriber(services, gql, localstripe, "rhea")
    assert sub.intent_id is not None
    await refund_in_stripe(services, localstripe, sub.intent_id, 100)

    found = await reconcile.reconcile_payments(
        services.runtime.read_sessionmaker, billing_of(services).gateway, now=utcnow()
    )

    assert found == []


async def test_every_kind_of_difference_is_reported_and_the_cli_exits_1(
    database: Database, gql: GraphQLClient, services: Services, localstripe: LocalStripe
) -> None:
    refunded = await paid_subscriber(services, gql, localstripe, "rory")
    wrong = await paid_subscriber(services, gql, localstripe, "will")
    gone = await paid_subscriber(services, gql, localstripe, "gwen")
    assert refunded.intent_id and wrong.intent_id and gone.intent_id
    await refund_in_stripe(services, localstripe, refunded.intent_id, 150)
    async with services.runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(Payment)
            .where(Payment.stripe_payment_intent_id == wrong.intent_id)
            .values(status="failed")
        )
        await session.execute(
            update(Payment)
            .where(Payment.stripe_payment_intent_id == gone.intent_id)
            .values(stripe_payment_intent_id="pi_unknown_to_stripe")
        )

    found = await _reconcile(services)

    assert sorted((m.kind.value, m.intent_id, m.chirp, m.stripe) for m in found) == sorted(
        [
            (MismatchKind.REFUNDED_DIFFERS.value, refunded.intent_id, "0", "150"),
            (MismatchKind.STATUS_DIFFERS.value, wrong.intent_id, "failed", "succeeded (succeeded)"),
            (MismatchKind.MISSING_IN_STRIPE.value, "pi_unknown_to_stripe", "succeeded", ""),
            # The intent that paid gwen's invoice is no payment of Chirp's now.
            (
                MismatchKind.MISSING_IN_CHIRP.value,
                gone.intent_id,
                "",
                f"succeeded {gone.amount_paid} {gone.currency.lower()}",
            ),
        ]
    )
    result = await run_cli_async(
        "billing",
        "reconcile",
        "--settle-minutes",
        "0",
        CHIRP_ENV="test",
        DATABASE_URL=database.url,
        STRIPE_API_BASE=localstripe.api_base,
    )
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("MISMATCH")]
    assert len(lines) == 4
    assert any(line.startswith(f"MISMATCH REFUNDED_DIFFERS {refunded.intent_id}") for line in lines)
    assert "4 mismatch(es)" in result.stdout


async def test_the_cli_exits_0_when_chirp_and_stripe_agree(
    database: Database, gql: GraphQLClient, services: Services, localstripe: LocalStripe
) -> None:
    await paid_subscriber(services, gql, localstripe, "aggie")

    result = await run_cli_async(
        "billing",
        "reconcile",
        "--settle-minutes",
        "0",
        CHIRP_ENV="test",
        DATABASE_URL=database.url,
        STRIPE_API_BASE=localstripe.api_base,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Chirp and Stripe agree" in result.stdout
