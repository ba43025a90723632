"""Money is an integer of minor units and an ISO 4217 currency; never a float."""

from __future__ import annotations

from models.billing import errors

# Minor-unit exponent of each currency Chirp bills in (JPY has none: 1 yen is the unit).
EXPONENTS = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0}
SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥"}
# Larger than any real invoice, small enough that sums stay exact everywhere.
MAX_AMOUNT = 10**12


def check_currency(code: str, *, field: str = "currency") -> str:
    """The ISO code in upper case, or UNSUPPORTED_CURRENCY."""
    upper = code.strip().upper()
    if upper not in EXPONENTS:
        raise errors.UnsupportedCurrency(
            f"Chirp bills in {', '.join(sorted(EXPONENTS))}; {code!r} is not one of them.",
            field=field,
        )
    return upper


def check_amount(amount: int, *, field: str, allow_zero: bool = False) -> int:
    low = 0 if allow_zero else 1
    if not low <= amount <= MAX_AMOUNT:
        raise errors.InvalidAmount(
            f"`{field}` must be a whole number of minor units from {low} to {MAX_AMOUNT}.",
            field=field,
        )
    return amount


def share(amount: int, numerator: int, denominator: int) -> int:
    """amount * numerator / denominator, rounded half up, in integers only."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    return (2 * amount * numerator + denominator) // (2 * denominator)


def basis_points(amount: int, points: int) -> int:
    """`points` hundredths of a percent of `amount`, rounded half up."""
    return share(amount, points, 10_000)


def format_money(amount: int, currency: str) -> str:
    """For people: "$12.50", "-€3.00", "¥1,200"."""
    exponent = EXPONENTS[currency]
    sign = "-" if amount < 0 else ""
    units, minor = divmod(abs(amount), 10**exponent)
    text = f"{units:,}" + (f".{minor:0{exponent}d}" if exponent else "")
    return f"{sign}{SYMBOLS.get(currency, currency + ' ')}{text}"
