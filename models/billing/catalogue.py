"""The default catalogue (plans, their entitlements and first prices), meters with their
tiers, and tax rates per country. Prices live in the database once created: a billing admin
replaces a price with `set_price`; this module only seeds the first ones."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.base import conflict_insert
from models.billing.tables import MONTH, YEAR, Plan, Price

FREE = "free"
PLUS = "plus"
PRO = "pro"


@dataclass(frozen=True)
class Entitlements:
    """What a plan unlocks, enforced in the domain (posts, usage)."""

    max_post_length: int
    # None: posts stay editable for as long as they exist.
    edit_window: timedelta | None
    # Metered units included each period before the meter's tiers apply.
    included_api_calls: int
    metered_billing: bool
    # The rate-limit rule (app.settings.DEFAULT_RATE_LIMITS) of the account's query budget.
    query_budget: str = "budget.user"


@dataclass(frozen=True)
class PlanDefinition:
    code: str
    name: str
    rank: int
    entitlements: Entitlements
    # currency -> interval -> amount in minor units
    prices: dict[str, dict[str, int]]


PLANS: dict[str, PlanDefinition] = {
    FREE: PlanDefinition(
        FREE, "Free", 0, Entitlements(500, timedelta(hours=1), 0, metered_billing=False), {}
    ),
    PLUS: PlanDefinition(
        PLUS,
        "Plus",
        1,
        Entitlements(
            1000, timedelta(days=1), 10_000, metered_billing=True, query_budget="budget.plus"
        ),
        {
            "USD": {MONTH: 500, YEAR: 5000},
            "EUR": {MONTH: 500, YEAR: 5000},
            "GBP": {MONTH: 450, YEAR: 4500},
            "JPY": {MONTH: 700, YEAR: 7000},
        },
    ),
    PRO: PlanDefinition(
        PRO,
        "Pro",
        2,
        Entitlements(4000, None, 100_000, metered_billing=True, query_budget="budget.pro"),
        {
            "USD": {MONTH: 1500, YEAR: 15000},
            "EUR": {MONTH: 1400, YEAR: 14000},
            "GBP": {MONTH: 1200, YEAR: 12000},
            "JPY": {MONTH: 2000, YEAR: 20000},
        },
    ),
}


def entitlements_of(plan_code: str) -> Entitlements:
    return PLANS[plan_code].entitlements


@dataclass(frozen=True)
class Tier:
    """Units up to `up_to` (None: without limit) cost `per_thousand` minor units per 1,000."""

    up_to: int | None
    per_thousand: int


API_CALLS = "api_calls"
# Graduated tiers per currency, applied to the units above the plan's included ones.
METERS: dict[str, dict[str, tuple[Tier, ...]]] = {
    API_CALLS: {
        "USD": (Tier(100_000, 20), Tier(None, 10)),
        "EUR": (Tier(100_000, 20), Tier(None, 10)),
        "GBP": (Tier(100_000, 16), Tier(None, 8)),
        "JPY": (Tier(100_000, 30), Tier(None, 15)),
    }
}

# Tax (VAT, GST, consumption tax) in basis points by the customer's country: the standard
# rates of the EU member states and of the other countries Chirp registered in, as of 2026.
# A country not listed is billed without tax. Rates change: a change here applies to
# invoices issued from then on (each invoice keeps the rate it was issued with).
TAX_RATES_BP: dict[str, int] = {
    "AT": 2000, "BE": 2100, "BG": 2000, "CY": 1900, "CZ": 2100, "DE": 1900, "DK": 2500,
    "EE": 2400, "ES": 2100, "FI": 2550, "FR": 2000, "GR": 2400, "HR": 2500, "HU": 2700,
    "IE": 2300, "IT": 2200, "LT": 2100, "LU": 1700, "LV": 2100, "MT": 1800, "NL": 2100,
    "PL": 2300, "PT": 2300, "RO": 2100, "SE": 2500, "SI": 2200, "SK": 2300,
    "GB": 2000, "NO": 2500, "CH": 810, "JP": 1000, "AU": 1000, "US": 0,
}  # fmt: skip


def tax_rate_bp(country: str | None) -> int:
    return TAX_RATES_BP.get(country or "", 0)


async def ensure_catalogue(session: AsyncSession) -> None:
    """Create the plans and their first prices if missing; safe for several processes at once
    (inserts that lose a race do nothing)."""
    insert = conflict_insert(session)
    for plan in PLANS.values():
        await session.execute(
            insert(Plan)
            .values(code=plan.code, name=plan.name, rank=plan.rank)
            .on_conflict_do_nothing(index_elements=["code"])
        )
    existing = {
        (p.plan_code, p.currency, p.interval)
        for p in await session.scalars(select(Price).where(Price.active))
    }
    for plan in PLANS.values():
        for currency, by_interval in plan.prices.items():
            for interval, amount in by_interval.items():
                if (plan.code, currency, interval) in existing:
                    continue
                await session.execute(
                    insert(Price)
                    .values(
                        plan_code=plan.code, currency=currency, interval=interval, amount=amount
                    )
                    .on_conflict_do_nothing()
                )
