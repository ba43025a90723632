"""billing: catalogue, customers, subscriptions, usage, invoices, payments, disputes

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('billing_coupons',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('percent_off', sa.Integer(), nullable=True),
    sa.Column('amounts_off', sa.JSON(), nullable=False),
    sa.Column('duration', sa.String(length=16), nullable=False),
    sa.Column('duration_months', sa.Integer(), nullable=True),
    sa.Column('plan_codes', sa.JSON(), nullable=False),
    sa.Column('max_redemptions', sa.Integer(), nullable=True),
    sa.Column('times_redeemed', sa.Integer(), nullable=False),
    sa.Column('redeem_by', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_time_only', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_coupons'))
    )
    op.create_table('billing_disputes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('stripe_dispute_id', sa.String(length=64), nullable=False),
    sa.Column('stripe_charge_id', sa.String(length=64), nullable=False),
    sa.Column('payment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('amount', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reason', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_disputes')),
    sa.UniqueConstraint('stripe_dispute_id', name=op.f('uq_billing_disputes_stripe_dispute_id'))
    )
    op.create_table('billing_document_counters',
    sa.Column('series', sa.String(length=32), nullable=False),
    sa.Column('last_number', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.PrimaryKeyConstraint('series', name=op.f('pk_billing_document_counters'))
    )
    op.create_table('billing_plans',
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('rank', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_billing_plans'))
    )
    op.create_table('billing_stripe_events',
    sa.Column('id', sa.String(length=100), nullable=False),
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('stripe_created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_stripe_events'))
    )
    op.create_table('billing_stripe_requests',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('operation', sa.String(length=64), nullable=False),
    sa.Column('result_id', sa.String(length=64), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_billing_stripe_requests'))
    )
    op.create_table('billing_customers',
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('stripe_customer_id', sa.String(length=64), nullable=True),
    sa.Column('default_payment_method_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('credit_balance', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_billing_customers_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', name=op.f('pk_billing_customers')),
    sa.UniqueConstraint('stripe_customer_id', name=op.f('uq_billing_customers_stripe_customer_id'))
    )
    op.create_table('billing_payment_methods',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('stripe_payment_method_id', sa.String(length=64), nullable=False),
    sa.Column('brand', sa.String(length=32), nullable=False),
    sa.Column('last4', sa.String(length=4), nullable=False),
    sa.Column('exp_month', sa.Integer(), nullable=False),
    sa.Column('exp_year', sa.Integer(), nullable=False),
    sa.Column('detached_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_billing_payment_methods_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_payment_methods')),
    sa.UniqueConstraint('stripe_payment_method_id', name=op.f('uq_billing_payment_methods_stripe_payment_method_id'))
    )
    op.create_index(op.f('ix_billing_payment_methods_account_id_id'), 'billing_payment_methods', ['account_id', 'id'], unique=False)
    op.create_table('billing_prices',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('plan_code', sa.String(length=32), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('interval', sa.String(length=8), nullable=False),
    sa.Column('amount', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('replaced_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['plan_code'], ['billing_plans.code'], name=op.f('fk_billing_prices_plan_code_billing_plans')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_prices'))
    )
    op.create_index('uq_billing_prices_active', 'billing_prices', ['plan_code', 'currency', 'interval'], unique=True, postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))
    op.create_table('billing_promotion_codes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('coupon_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('max_redemptions', sa.Integer(), nullable=True),
    sa.Column('times_redeemed', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_time_only', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['coupon_id'], ['billing_coupons.id'], name=op.f('fk_billing_promotion_codes_coupon_id_billing_coupons')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_promotion_codes')),
    sa.UniqueConstraint('code', name=op.f('uq_billing_promotion_codes_code'))
    )
    op.create_table('billing_usage_records',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('event_id', sa.String(length=100), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('meter', sa.String(length=32), nullable=False),
    sa.Column('quantity', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_billing_usage_records_account_id_accounts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_usage_records')),
    sa.UniqueConstraint('event_id', name=op.f('uq_billing_usage_records_event_id'))
    )
    op.create_index(op.f('ix_billing_usage_records_account_id_meter_occurred_at'), 'billing_usage_records', ['account_id', 'meter', 'occurred_at'], unique=False)
    op.create_table('billing_coupon_redemptions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('coupon_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('promotion_code_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('applies_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('spent', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_billing_coupon_redemptions_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['coupon_id'], ['billing_coupons.id'], name=op.f('fk_billing_coupon_redemptions_coupon_id_billing_coupons')),
    sa.ForeignKeyConstraint(['promotion_code_id'], ['billing_promotion_codes.id'], name=op.f('fk_billing_coupon_redemptions_promotion_code_id_billing_promotion_codes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_coupon_redemptions')),
    sa.UniqueConstraint('coupon_id', 'account_id', name=op.f('uq_billing_coupon_redemptions_coupon_id_account_id'))
    )
    op.create_table('billing_subscriptions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('price_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('billing_anchor', sa.DateTime(timezone=True), nullable=False),
    sa.Column('current_period_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('current_period_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('pending_price_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('cancel_at_period_end', sa.Boolean(), nullable=False),
    sa.Column('redemption_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('past_due_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('retry_step', sa.Integer(), nullable=False),
    sa.Column('next_retry_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('grace_ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('frozen', sa.Boolean(), nullable=False),
    sa.Column('canceled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_reason', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_billing_subscriptions_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['pending_price_id'], ['billing_prices.id'], name=op.f('fk_billing_subscriptions_pending_price_id_billing_prices')),
    sa.ForeignKeyConstraint(['price_id'], ['billing_prices.id'], name=op.f('fk_billing_subscriptions_price_id_billing_prices')),
    sa.ForeignKeyConstraint(['redemption_id'], ['billing_coupon_redemptions.id'], name=op.f('fk_billing_subscriptions_redemption_id_billing_coupon_redemptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_subscriptions'))
    )
    op.create_index(op.f('ix_billing_subscriptions_status_current_period_end'), 'billing_subscriptions', ['status', 'current_period_end'], unique=False)
    op.create_index('uq_billing_subscriptions_live', 'billing_subscriptions', ['account_id'], unique=True, postgresql_where=sa.text("status <> 'canceled'"), sqlite_where=sa.text("status <> 'canceled'"))
    op.create_table('billing_invoices',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('number', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('subscription_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reason', sa.String(length=32), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('subtotal', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('discount_total', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('tax_country', sa.String(length=2), nullable=True),
    sa.Column('tax_rate_bp', sa.Integer(), nullable=False),
    sa.Column('tax_total', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('total', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('credit_applied', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount_due', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount_paid', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount_refunded', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('finalized_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paid_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('voided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_billing_invoices_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['subscription_id'], ['billing_subscriptions.id'], name=op.f('fk_billing_invoices_subscription_id_billing_subscriptions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_invoices')),
    sa.UniqueConstraint('number', name=op.f('uq_billing_invoices_number'))
    )
    op.create_index(op.f('ix_billing_invoices_account_id_id'), 'billing_invoices', ['account_id', 'id'], unique=False)
    op.create_index(op.f('ix_billing_invoices_status_created_at'), 'billing_invoices', ['status', 'created_at'], unique=False)
    op.create_table('billing_credit_notes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('number', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('payment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('amount', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('stripe_refund_id', sa.String(length=64), nullable=True),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['accounts.id'], name=op.f('fk_billing_credit_notes_created_by_id_accounts'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['invoice_id'], ['billing_invoices.id'], name=op.f('fk_billing_credit_notes_invoice_id_billing_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_credit_notes')),
    sa.UniqueConstraint('number', name=op.f('uq_billing_credit_notes_number')),
    sa.UniqueConstraint('stripe_refund_id', name=op.f('uq_billing_credit_notes_stripe_refund_id'))
    )
    op.create_index(op.f('ix_billing_credit_notes_invoice_id'), 'billing_credit_notes', ['invoice_id'], unique=False)
    op.create_table('billing_invoice_lines',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('quantity', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('price_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('period_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('period_end', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['invoice_id'], ['billing_invoices.id'], name=op.f('fk_billing_invoice_lines_invoice_id_billing_invoices'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_invoice_lines'))
    )
    op.create_index(op.f('ix_billing_invoice_lines_invoice_id_id'), 'billing_invoice_lines', ['invoice_id', 'id'], unique=False)
    op.create_table('billing_payments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('invoice_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('account_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('amount', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('stripe_payment_intent_id', sa.String(length=64), nullable=True),
    sa.Column('stripe_charge_id', sa.String(length=64), nullable=True),
    sa.Column('payment_method_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('failure_code', sa.String(length=64), nullable=False),
    sa.Column('failure_message', sa.String(length=300), nullable=False),
    sa.Column('amount_refunded', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_billing_payments_account_id_accounts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['invoice_id'], ['billing_invoices.id'], name=op.f('fk_billing_payments_invoice_id_billing_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_billing_payments')),
    sa.UniqueConstraint('stripe_payment_intent_id', name=op.f('uq_billing_payments_stripe_payment_intent_id'))
    )
    op.create_index(op.f('ix_billing_payments_invoice_id_id'), 'billing_payments', ['invoice_id', 'id'], unique=False)
    op.create_index(op.f('ix_billing_payments_status_created_at'), 'billing_payments', ['status', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_billing_payments_status_created_at'), table_name='billing_payments')
    op.drop_index(op.f('ix_billing_payments_invoice_id_id'), table_name='billing_payments')
    op.drop_table('billing_payments')
    op.drop_index(op.f('ix_billing_invoice_lines_invoice_id_id'), table_name='billing_invoice_lines')
    op.drop_table('billing_invoice_lines')
    op.drop_index(op.f('ix_billing_credit_notes_invoice_id'), table_name='billing_credit_notes')
    op.drop_table('billing_credit_notes')
    op.drop_index(op.f('ix_billing_invoices_status_created_at'), table_name='billing_invoices')
    op.drop_index(op.f('ix_billing_invoices_account_id_id'), table_name='billing_invoices')
    op.drop_table('billing_invoices')
    op.drop_index('uq_billing_subscriptions_live', table_name='billing_subscriptions', postgresql_where=sa.text("status <> 'canceled'"), sqlite_where=sa.text("status <> 'canceled'"))
    op.drop_index(op.f('ix_billing_subscriptions_status_current_period_end'), table_name='billing_subscriptions')
    op.drop_table('billing_subscriptions')
    op.drop_table('billing_coupon_redemptions')
    op.drop_index(op.f('ix_billing_usage_records_account_id_meter_occurred_at'), table_name='billing_usage_records')
    op.drop_table('billing_usage_records')
    op.drop_table('billing_promotion_codes')
    op.drop_index('uq_billing_prices_active', table_name='billing_prices', postgresql_where=sa.text('active'), sqlite_where=sa.text('active'))
    op.drop_table('billing_prices')
    op.drop_index(op.f('ix_billing_payment_methods_account_id_id'), table_name='billing_payment_methods')
    op.drop_table('billing_payment_methods')
    op.drop_table('billing_customers')
    op.drop_table('billing_stripe_requests')
    op.drop_table('billing_stripe_events')
    op.drop_table('billing_plans')
    op.drop_table('billing_document_counters')
    op.drop_table('billing_disputes')
    op.drop_table('billing_coupons')
