"""posts: an index on reply_to_id, so counting a post's visible replies reads its replies
only (it scanned every post: 250 to 580 ms a page at 1M posts)

Built CONCURRENTLY on PostgreSQL, outside the migration's transaction, so posting goes on
while it builds; a failed concurrent build leaves an INVALID index that the upgrade drops
and builds again.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

NAME = "ix_posts_replies"
WHERE = "reply_to_id IS NOT NULL"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {NAME}")
            op.create_index(
                NAME,
                "posts",
                ["reply_to_id"],
                postgresql_where=sa.text(WHERE),
                postgresql_concurrently=True,
            )
        return
    op.create_index(NAME, "posts", ["reply_to_id"], sqlite_where=sa.text(WHERE))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        with op.get_context().autocommit_block():
            op.drop_index(NAME, table_name="posts", postgresql_concurrently=True)
        return
    op.drop_index(NAME, table_name="posts")
