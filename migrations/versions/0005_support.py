"""support: failed log-ins and sessions by IP

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 09:38:47.957150
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('failed_logins',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('failure', sa.String(length=64), nullable=False),
    sa.Column('ip', sa.String(length=64), nullable=False),
    sa.Column('user_agent', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_failed_logins_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_failed_logins'))
    )
    with op.batch_alter_table('failed_logins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_failed_logins_account_id_created_at'), ['account_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_failed_logins_ip'), ['ip'], unique=False)

    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_sessions_ip'), ['ip'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_sessions_ip'))

    with op.batch_alter_table('failed_logins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_failed_logins_ip'))
        batch_op.drop_index(batch_op.f('ix_failed_logins_account_id_created_at'))

    op.drop_table('failed_logins')