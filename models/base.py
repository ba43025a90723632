"""Declarative base and column types shared by every domain's tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, TypeDecorator
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase

from models.errors import DomainError

# SQLite only autoincrements an INTEGER PRIMARY KEY, so ids are BIGINT elsewhere.
BigId = BigInteger().with_variant(Integer(), "sqlite")

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are refused: use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def conflict_insert(session: AsyncSession) -> Any:
    """The `insert` of the session's dialect, the kind that can say ON CONFLICT (DO NOTHING,
    DO UPDATE): PostgreSQL's or SQLite's, the two Chirp runs on."""
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime, *, field: str, error: type[DomainError]) -> datetime:
    """A time a client sent, in UTC: one without a UTC offset, or whose UTC equivalent falls
    outside the years 1 to 9999 (e.g. 9999-12-31T23:00:00-12:00), is `error` naming `field`
    rather than a comparison failure or an overflow."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise error(f"Give `{field}` with a UTC offset, e.g. 2030-01-31T12:00:00Z.", field=field)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise error(
            f"`{field}` is out of range: give a time between the years 1 and 9999 in UTC.",
            field=field,
        ) from None
