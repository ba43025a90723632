"""What the owner of an account is told by email when its authority grows: a staff role
granted, a second factor turned on. Someone who took the password over cannot hide either
from the owner; each email is queued in the transaction that makes the change."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts.tables import Account
from models.mail import actions as mail

ADVICE = (
    "If you did not expect this, someone else may know your password: tell the Chirp "
    "administrators at once, and change your password.\n"
)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


async def role_granted(session: AsyncSession, *, account: Account, role: str, at: datetime) -> bool:
    """Tell the owner that their account now holds a staff role."""
    return await mail.queue_email(
        session,
        key=f"access:role-granted:{account.id}:{role}:{at.isoformat()}",
        to=account.email,
        subject=f"Your Chirp account was granted the {role} role",
        text=(
            f"Hello {account.handle},\n\n"
            f"your Chirp account was granted the staff role {role} on {_when(at)}.\n"
            "Staff roles count only in a session that proved a second factor. If your "
            "account has none yet, an administrator gives you a single-use enrolment code "
            "to turn it on.\n\n" + ADVICE
        ),
    )


async def second_factor_enrolled(session: AsyncSession, *, account: Account, at: datetime) -> bool:
    """Tell the owner that two-factor authentication was turned on for their account."""
    return await mail.queue_email(
        session,
        key=f"access:totp-enabled:{account.id}:{at.isoformat()}",
        to=account.email,
        subject="Two-factor authentication was turned on for your Chirp account",
        text=(
            f"Hello {account.handle},\n\n"
            f"an authenticator app was enrolled as the second factor of your Chirp account "
            f"on {_when(at)}; log-ins now need its codes.\n\n" + ADVICE
        ),
    )
