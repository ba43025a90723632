"""billing: invoices and payments outlive their account; annual usage is billed monthly

`billing_subscriptions.usage_billed_until` (nullable, added) records the month boundary up
to which an annual plan's usage is invoiced; old code neither reads nor writes it.

An account's deletion used to delete its invoices and payments in cascade. Now their
`account_id` (and an invoice's `subscription_id`, whose subscription goes with the account)
is set to NULL instead. Expand-only: old code writes both columns as before and never reads
a NULL one (it deletes no account), so a rolling deploy is safe; the contract half is
nothing.

SQLite cannot alter a foreign key in place, and Alembic's batch mode would rebuild
billing_invoices, whose DROP deletes every invoice line in cascade (SQLite runs the implicit
DELETE's foreign-key actions, and PRAGMA foreign_keys cannot change inside the migration's
transaction). These changes (a looser NOT NULL, another ON DELETE action) leave the stored
rows as they are, so on SQLite the table definitions are edited in place, the procedure
SQLite documents for such changes (https://sqlite.org/lang_altertable.html, section 7).

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

# (table, column, referred table, old ON DELETE, new ON DELETE, nullable before)
_KEYS = (
    ('billing_invoices', 'account_id', 'accounts', 'CASCADE', 'SET NULL', False),
    ('billing_invoices', 'subscription_id', 'billing_subscriptions', None, 'SET NULL', True),
    ('billing_payments', 'account_id', 'accounts', 'CASCADE', 'SET NULL', False),
)


def _name(table: str, column: str, referred: str) -> str:
    return f'fk_{table}_{column}_{referred}'


def _clause(table: str, column: str, referred: str, ondelete: str | None) -> str:
    action = '' if ondelete is None else f' ON DELETE {ondelete}'
    return (
        f'CONSTRAINT {_name(table, column, referred)} FOREIGN KEY({column}) '
        f'REFERENCES {referred} (id){action}'
    )


def _sqlite_edit(upgrade: bool) -> None:
    conn = op.get_bind()
    tables = sorted({key[0] for key in _KEYS})
    version = conn.exec_driver_sql('PRAGMA schema_version').scalar_one()
    conn.exec_driver_sql('PRAGMA writable_schema=ON')
    for table in tables:
        sql = conn.execute(
            sa.text("SELECT sql FROM sqlite_master WHERE type='table' AND name=:name"),
            {'name': table},
        ).scalar_one()
        for name, column, referred, old, new, was_nullable in _KEYS:
            if name != table:
                continue
            before, after = (old, new) if upgrade else (new, old)
            sql = _replace(sql, _clause(table, column, referred, before),
                           _clause(table, column, referred, after))
            if not was_nullable:
                strict, loose = f'\n\t{column} INTEGER NOT NULL,', f'\n\t{column} INTEGER,'
                sql = _replace(sql, strict, loose) if upgrade else _replace(sql, loose, strict)
        conn.execute(
            sa.text("UPDATE sqlite_master SET sql=:sql WHERE type='table' AND name=:name"),
            {'sql': sql, 'name': table},
        )
    conn.exec_driver_sql(f'PRAGMA schema_version={int(version) + 1}')
    conn.exec_driver_sql('PRAGMA writable_schema=OFF')
    problems = conn.exec_driver_sql('PRAGMA integrity_check').scalars().all()
    if problems != ['ok']:
        raise RuntimeError(f'SQLite integrity check failed after editing the schema: {problems}')


def _replace(sql: str, old: str, new: str) -> str:
    if sql.count(old) != 1:
        raise RuntimeError(f'Unexpected table definition: {old!r} not found once in {sql!r}')
    return sql.replace(old, new)


def _postgresql(upgrade: bool) -> None:
    for table, column, referred, old, new, was_nullable in _KEYS:
        name = _name(table, column, referred)
        op.drop_constraint(name, table, type_='foreignkey')
        op.create_foreign_key(
            name, table, referred, [column], ['id'], ondelete=new if upgrade else old
        )
        if not was_nullable:
            op.alter_column(table, column, existing_type=ID, nullable=upgrade)


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        _sqlite_edit(upgrade=True)
    else:
        _postgresql(upgrade=True)
    op.add_column(
        'billing_subscriptions',
        sa.Column('usage_billed_until', sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    # Only while no account was deleted since: a NULL account_id cannot be NOT NULL again.
    # SQLite drops the column in place (3.35+): batch mode would rebuild the table, whose DROP
    # sets every invoice's subscription_id to NULL.
    op.execute('ALTER TABLE billing_subscriptions DROP COLUMN usage_billed_until')
    if op.get_bind().dialect.name == 'sqlite':
        _sqlite_edit(upgrade=False)
    else:
        _postgresql(upgrade=False)
