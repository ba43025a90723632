"""moderation: reports, cases, notes, strikes, appeals; moderation state on posts and accounts

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('moderation_cases',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('target_type', sa.String(length=16), nullable=False),
    sa.Column('target_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('post_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('report_count', sa.Integer(), nullable=False),
    sa.Column('assignee_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_moderation_cases_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['assignee_id'], ['accounts.id'], name=op.f('fk_moderation_cases_assignee_id_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['closed_by_id'], ['accounts.id'], name=op.f('fk_moderation_cases_closed_by_id_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_moderation_cases_post_id_posts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderation_cases'))
    )
    with op.batch_alter_table('moderation_cases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_moderation_cases_account_id_id'), ['account_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_moderation_cases_assignee_id_status'), ['assignee_id', 'status'], unique=False)
        batch_op.create_index(batch_op.f('ix_moderation_cases_status_priority_id'), ['status', 'priority', 'id'], unique=False)
        batch_op.create_index('uq_moderation_cases_open_target', ['target_type', 'target_id'], unique=True, postgresql_where=sa.text("status = 'OPEN'"), sqlite_where=sa.text("status = 'OPEN'"))

    op.create_table('moderation_case_notes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('author_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['accounts.id'], name=op.f('fk_moderation_case_notes_author_id_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['case_id'], ['moderation_cases.id'], name=op.f('fk_moderation_case_notes_case_id_moderation_cases'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_moderation_case_notes'))
    )
    with op.batch_alter_table('moderation_case_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_moderation_case_notes_case_id_id'), ['case_id', 'id'], unique=False)

    op.create_table('reports',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('reporter_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['moderation_cases.id'], name=op.f('fk_reports_case_id_moderation_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reporter_id'], ['accounts.id'], name=op.f('fk_reports_reporter_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reports')),
    sa.UniqueConstraint('case_id', 'reporter_id', name=op.f('uq_reports_case_id_reporter_id'))
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reports_case_id_id'), ['case_id', 'id'], unique=False)

    op.create_table('strikes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('post_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=True),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('public_reason', sa.Text(), nullable=False),
    sa.Column('issued_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lifted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lift_cause', sa.String(length=16), nullable=True),
    sa.Column('lifted_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_strikes_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['case_id'], ['moderation_cases.id'], name=op.f('fk_strikes_case_id_moderation_cases'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['issued_by_id'], ['accounts.id'], name=op.f('fk_strikes_issued_by_id_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lifted_by_id'], ['accounts.id'], name=op.f('fk_strikes_lifted_by_id_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['post_id'], ['posts.id'], name=op.f('fk_strikes_post_id_posts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_strikes'))
    )
    with op.batch_alter_table('strikes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_strikes_account_id_id'), ['account_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_strikes_post_id'), ['post_id'], unique=False)

    op.create_table('appeals',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('strike_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decision_message', sa.Text(), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_appeals_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by_id'], ['accounts.id'], name=op.f('fk_appeals_decided_by_id_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['strike_id'], ['strikes.id'], name=op.f('fk_appeals_strike_id_strikes'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appeals')),
    sa.UniqueConstraint('strike_id', name=op.f('uq_appeals_strike_id'))
    )
    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appeals_status_id'), ['status', 'id'], unique=False)

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('limited_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('suspended_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('suspended_until', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_accounts_suspended_until', ['suspended_until'], unique=False, postgresql_where=sa.text('suspended_at IS NOT NULL'), sqlite_where=sa.text('suspended_at IS NOT NULL'))

    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('hidden_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sensitive', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_column('sensitive')
        batch_op.drop_column('hidden_at')

    with op.batch_alter_table('accounts', schema=None) as batch_op:
        batch_op.drop_index('ix_accounts_suspended_until', postgresql_where=sa.text('suspended_at IS NOT NULL'), sqlite_where=sa.text('suspended_at IS NOT NULL'))
        batch_op.drop_column('suspended_until')
        batch_op.drop_column('suspended_at')
        batch_op.drop_column('limited_at')

    with op.batch_alter_table('appeals', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appeals_status_id'))

    op.drop_table('appeals')
    with op.batch_alter_table('strikes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_strikes_post_id'))
        batch_op.drop_index(batch_op.f('ix_strikes_account_id_id'))

    op.drop_table('strikes')
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reports_case_id_id'))

    op.drop_table('reports')
    with op.batch_alter_table('moderation_case_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_moderation_case_notes_case_id_id'))

    op.drop_table('moderation_case_notes')
    with op.batch_alter_table('moderation_cases', schema=None) as batch_op:
        batch_op.drop_index('uq_moderation_cases_open_target', postgresql_where=sa.text("status = 'OPEN'"), sqlite_where=sa.text("status = 'OPEN'"))
        batch_op.drop_index(batch_op.f('ix_moderation_cases_status_priority_id'))
        batch_op.drop_index(batch_op.f('ix_moderation_cases_assignee_id_status'))
        batch_op.drop_index(batch_op.f('ix_moderation_cases_account_id_id'))

    op.drop_table('moderation_cases')
