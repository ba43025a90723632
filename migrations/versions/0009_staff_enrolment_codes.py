"""access: single-use enrolment codes an ADMIN issues for a staff account's first second factor

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('totp_enrolment_codes',
    sa.Column('id', ID, autoincrement=True, nullable=False),
    sa.Column('account_id', ID, nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('issued_by_id', ID, nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_totp_enrolment_codes_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['issued_by_id'], ['accounts.id'], name=op.f('fk_totp_enrolment_codes_issued_by_id_accounts'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_totp_enrolment_codes')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_totp_enrolment_codes_code_hash'))
    )
    with op.batch_alter_table('totp_enrolment_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_totp_enrolment_codes_account_id'), ['account_id'], unique=False)

    with op.batch_alter_table('totp_credentials', schema=None) as batch_op:
        batch_op.add_column(sa.Column('enrolment_code_id', ID, nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_totp_credentials_enrolment_code_id_totp_enrolment_codes'), 'totp_enrolment_codes', ['enrolment_code_id'], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    with op.batch_alter_table('totp_credentials', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_totp_credentials_enrolment_code_id_totp_enrolment_codes'), type_='foreignkey')
        batch_op.drop_column('enrolment_code_id')

    with op.batch_alter_table('totp_enrolment_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_totp_enrolment_codes_account_id'))

    op.drop_table('totp_enrolment_codes')
