"""The migrations build exactly the schema the models declare, on every back end."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from app import db
from models.tables import metadata
from tests.conftest import make_settings
from tests.support.backends import Database


def _differences(sync: Connection) -> list[Any]:
    context = MigrationContext.configure(sync, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_migrations_match_the_models(database: Database) -> None:
    engine = db.create_engine(make_settings(database))
    try:
        assert await db.current_revision(engine) == db.head_revision()
        async with engine.connect() as conn:
            differences = await conn.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == []
