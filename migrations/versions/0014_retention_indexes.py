"""retention: an index on created_at of each table the retention sweep prunes, so finding
rows past their retention (and finding none, every few minutes) reads the old end of an
index instead of the whole table

Built CONCURRENTLY on PostgreSQL, outside the migration's transaction, so writes go on
while they build; a failed concurrent build leaves an INVALID index that the upgrade drops
and builds again.

Revision ID: 0014
Revises: 0011
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0011"
branch_labels = None
depends_on = None

TABLES = (
    "events",
    "webhook_fanouts",
    "webhook_deliveries",
    "outbound_emails",
    "failed_logins",
    "billing_stripe_requests",
)


def _name(table: str) -> str:
    return f"ix_{table}_created_at"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            for table in TABLES:
                op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_name(table)}")
                op.create_index(
                    _name(table), table, ["created_at"], postgresql_concurrently=True
                )
        return
    for table in TABLES:
        op.create_index(_name(table), table, ["created_at"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            for table in TABLES:
                op.drop_index(_name(table), table_name=table, postgresql_concurrently=True)
        return
    for table in TABLES:
        op.drop_index(_name(table), table_name=table)
