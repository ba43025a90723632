"""The retention rules, the metric's table labels and the settings name the same tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.runtime import retention_policy
from app.settings import Settings
from models.retention.rules import RULES
from telemetry import metrics


def test_every_pruned_table_has_its_metric_label_and_a_default_retention() -> None:
    policy = retention_policy(Settings(env="test"))

    assert tuple(rule.name for rule in RULES) == metrics.RETENTION_TABLES
    assert {rule.name: rule.table.__tablename__ for rule in RULES} == {
        name: name for name in metrics.RETENTION_TABLES
    }
    assert policy.periods == {
        "events": timedelta(days=7),
        "webhook_fanouts": timedelta(days=7),
        "webhook_deliveries": timedelta(days=30),
        "outbound_emails": timedelta(days=30),
        "failed_logins": timedelta(days=30),
        "billing_stripe_requests": timedelta(days=7),
    }


def test_a_retention_of_0_days_keeps_the_table() -> None:
    policy = retention_policy(Settings(env="test", retention_emails_days=0))

    assert "outbound_emails" not in policy.periods
    assert policy.cutoff("outbound_emails", datetime.now(UTC)) is None
