"""events: the job ledger (queued_jobs), the durable record of every job an event called
for, so a job lost with Redis or with a killed worker is enqueued again

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
PENDING = "done_at IS NULL AND parked_at IS NULL"
PARKED = "parked_at IS NOT NULL"


def upgrade() -> None:
    op.create_table(
        "queued_jobs",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kwargs", sa.JSON(), nullable=False),
        sa.Column("event_seq", ID, nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("requeues", sa.Integer(), nullable=False),
        sa.Column("running_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queued_jobs")),
    )
    op.create_index(
        "ix_queued_jobs_due",
        "queued_jobs",
        ["due_at"],
        postgresql_where=sa.text(PENDING),
        sqlite_where=sa.text(PENDING),
    )
    op.create_index(
        "ix_queued_jobs_parked",
        "queued_jobs",
        ["parked_at"],
        postgresql_where=sa.text(PARKED),
        sqlite_where=sa.text(PARKED),
    )
    op.create_index("ix_queued_jobs_done_at", "queued_jobs", ["done_at"])


def downgrade() -> None:
    op.drop_index("ix_queued_jobs_done_at", table_name="queued_jobs")
    op.drop_index("ix_queued_jobs_parked", table_name="queued_jobs")
    op.drop_index("ix_queued_jobs_due", table_name="queued_jobs")
    op.drop_table("queued_jobs")
