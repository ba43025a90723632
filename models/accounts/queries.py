"""Staff reads of accounts: search by handle, email or IP, sessions, and log-in history."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from models.accounts import errors
from models.accounts.tables import Account, FailedLogin, LoginSession
from models.pages import Page
from models.text import check_text

EMAIL_PREFIX_MIN = 3
# The longest term worth searching for: no handle, email or IP address is longer.
HANDLE_MAX, EMAIL_MAX, IP_MAX = 30, 254, 64
FIELDS = {
    "handle_prefix": "handlePrefix",
    "email": "email",
    "email_prefix": "emailPrefix",
    "ip": "ip",
}
LIMITS = {"handle_prefix": HANDLE_MAX, "email": EMAIL_MAX, "email_prefix": EMAIL_MAX, "ip": IP_MAX}
EMAIL_CRITERIA = frozenset({"email", "email_prefix"})
SUCCEEDED, FAILED = 1, 0  # ranks of log-in records at the same instant, newest first


@dataclass(frozen=True, slots=True)
class AccountSearch:
    """Exactly one criterion: a handle prefix, an exact email, an email prefix, or an IP
    address that one of the account's sessions used."""

    handle_prefix: str | None = None
    email: str | None = None
    email_prefix: str | None = None
    ip: str | None = None

    @property
    def by_email(self) -> bool:
        """Whether the search looks at email addresses (so only email readers may run it:
        a prefix grown one character at a time would otherwise spell the address out)."""
        return any(self._criteria()[k] is not None for k in EMAIL_CRITERIA)

    def checked(self) -> AccountSearch:
        """The search normalised; a typed error if it is empty, ambiguous or malformed,
        holds a control character, or is longer than any handle, email or IP address."""
        for key, value in self._criteria().items():
            if value is not None:
                check_text(value, field=FIELDS[key])
        given = {k: v.strip() for k, v in self._criteria().items() if v is not None}
        if len(given) != 1 or not next(iter(given.values())):
            raise errors.InvalidSearch(
                "Give exactly one of handlePrefix, email, emailPrefix or ip.", field="filter"
            )
        if "ip" in given:
            try:
                given["ip"] = str(ipaddress.ip_address(given["ip"]))
            except ValueError:
                raise errors.InvalidSearch("That is not an IP address.", field="ip") from None
        if "email_prefix" in given and len(given["email_prefix"]) < EMAIL_PREFIX_MIN:
            raise errors.InvalidSearch(
                f"An email prefix has at least {EMAIL_PREFIX_MIN} characters.", field="emailPrefix"
            )
        if "handle_prefix" in given:
            given["handle_prefix"] = given["handle_prefix"].lstrip("@").casefold()
        for key in ("email", "email_prefix"):
            if key in given:
                given[key] = given[key].lower()
        ((key, value),) = given.items()
        if len(value) > LIMITS[key]:
            raise errors.InvalidSearch(
                f"`{FIELDS[key]}` is at most {LIMITS[key]} characters.", field=FIELDS[key]
            )
        return AccountSearch(**given)

    def criterion(self) -> tuple[str, str]:
        """The one criterion of a checked search, as (name, value)."""
        return next((k, v) for k, v in self._criteria().items() if v is not None)

    def _criteria(self) -> dict[str, str | None]:
        return {
            "handle_prefix": self.handle_prefix,
            "email": self.email,
            "email_prefix": self.email_prefix,
            "ip": self.ip,
        }

    def condition(self) -> ColumnElement[bool]:
        if self.handle_prefix is not None:
            return Account.handle_key.startswith(self.handle_prefix, autoescape=True)
        if self.email is not None:
            return Account.email == self.email
        if self.email_prefix is not None:
            return Account.email.startswith(self.email_prefix, autoescape=True)
        assert self.ip is not None
        return Account.id.in_(select(LoginSession.account_id).where(LoginSession.ip == self.ip))


async def search_accounts(
    session: AsyncSession, *, search: AccountSearch, first: int, before: int | None
) -> Page[Account]:
    """Accounts matching a checked search, newest first, keyset-paged on the id."""
    stmt = select(Account).where(search.condition())
    if before is not None:
        stmt = stmt.where(Account.id < before)
    rows = list(await session.scalars(stmt.order_by(Account.id.desc()).limit(first + 1)))
    return Page(items=[(a.id, a) for a in rows[:first]], has_next=len(rows) > first)


async def sessions_page(
    session: AsyncSession, *, account_id: int, first: int, before: int | None
) -> Page[LoginSession]:
    """An account's log-in sessions, live or not, newest first."""
    stmt = select(LoginSession).where(LoginSession.account_id == account_id)
    if before is not None:
        stmt = stmt.where(LoginSession.id < before)
    rows = list(await session.scalars(stmt.order_by(LoginSession.id.desc()).limit(first + 1)))
    return Page(items=[(s.id, s) for s in rows[:first]], has_next=len(rows) > first)


HistoryKey = tuple[datetime, int, int]  # (when, SUCCEEDED or FAILED, row id)


@dataclass(frozen=True, slots=True)
class LogInRecord:
    """One log-in attempt: a session that was opened, or a refused attempt."""

    key: HistoryKey
    succeeded: bool
    ip: str
    user_agent: str
    second_factor: bool
    failure: str
    session_id: int | None

    @property
    def at(self) -> datetime:
        return self.key[0]


def _before(
    created: InstrumentedAttribute[datetime],
    ident: InstrumentedAttribute[int],
    rank: int,
    key: HistoryKey,
) -> ColumnElement[bool]:
    """Rows of a source of rank `rank` that sort after `key` (newest first)."""
    at, key_rank, key_id = key
    if rank < key_rank:
        return created <= at
    if rank > key_rank:
        return created < at
    return or_(created < at, and_(created == at, ident < key_id))


async def login_history(
    session: AsyncSession, *, account_id: int, first: int, before: HistoryKey | None
) -> Page[LogInRecord]:
    """Successful log-ins (the account's sessions; signing up opens one too) and refused
    attempts, merged newest first. Each source reads at most `first + 1` rows."""
    opened = select(LoginSession).where(LoginSession.account_id == account_id)
    refused = select(FailedLogin).where(FailedLogin.account_id == account_id)
    if before is not None:
        opened = opened.where(_before(LoginSession.created_at, LoginSession.id, SUCCEEDED, before))
        refused = refused.where(_before(FailedLogin.created_at, FailedLogin.id, FAILED, before))
    limit = first + 1
    records = [
        LogInRecord(
            key=(s.created_at, SUCCEEDED, s.id),
            succeeded=True,
            ip=s.ip,
            user_agent=s.user_agent,
            second_factor=s.second_factor_at is not None,
            failure="",
            session_id=s.id,
        )
        for s in await session.scalars(
            opened.order_by(LoginSession.created_at.desc(), LoginSession.id.desc()).limit(limit)
        )
    ] + [
        LogInRecord(
            key=(f.created_at, FAILED, f.id),
            succeeded=False,
            ip=f.ip,
            user_agent=f.user_agent,
            second_factor=False,
            failure=f.failure,
            session_id=None,
        )
        for f in await session.scalars(
            refused.order_by(FailedLogin.created_at.desc(), FailedLogin.id.desc()).limit(limit)
        )
    ]
    records.sort(key=lambda r: r.key, reverse=True)
    return Page(items=[(0, r) for r in records[:first]], has_next=len(records) > first)
