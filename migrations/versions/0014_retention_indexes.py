"""retention: an index on created_at of each table the retention sweep prunes, so finding
rows past their retention (and finding none, every few minutes) reads the old end of an
index instead of the whole table; and one on webhook_deliveries.event_id, so asking whether
a delivery still holds an event (and PostgreSQL's check of that foreign key when an event
is removed) does not scan the deliveries

Built CONCURRENTLY on PostgreSQL, outside the migration's transaction, so writes go on
while they build; a failed concurrent build leaves an INVALID index that the upgrade drops
and builds again.

Revision ID: 0014
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None

PRUNED = (
    "events",
    "webhook_fanouts",
    "webhook_deliveries",
    "outbound_emails",
    "failed_logins",
    "billing_stripe_requests",
)
INDEXES = tuple((table, "created_at") for table in PRUNED) + (("webhook_deliveries", "event_id"),)


def _name(table: str, column: str) -> str:
    return f"ix_{table}_{column}"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            for table, column in INDEXES:
                op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_name(table, column)}")
                op.create_index(_name(table, column), table, [column], postgresql_concurrently=True)
        return
    for table, column in INDEXES:
        op.create_index(_name(table, column), table, [column])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            for table, column in INDEXES:
                op.drop_index(_name(table, column), table_name=table, postgresql_concurrently=True)
        return
    for table, column in INDEXES:
        op.drop_index(_name(table, column), table_name=table)
