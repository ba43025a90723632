"""Alembic environment: migrations run on a connection Chirp hands in (see app/db.py)."""

from __future__ import annotations

from alembic import context

from models.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations with `chirp migrate`, which provides the connection.")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
