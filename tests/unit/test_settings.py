"""Settings are built once from the environment; production refuses unsafe values."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.settings import Settings, SettingsError


def test_defaults_are_the_embedded_development_setup() -> None:
    settings = Settings.from_env({})

    assert settings.env == "development"
    assert settings.is_sqlite
    assert settings.redis_url is None
    assert settings.embedded_worker is True


def test_database_urls_get_the_async_driver() -> None:
    pg = Settings.from_env({"DATABASE_URL": "postgresql://u@db:5432/chirp"})
    legacy = Settings.from_env({"DATABASE_URL": "postgres://u@db/chirp"})
    sqlite = Settings.from_env({"DATABASE_URL": "sqlite:///data/chirp.db"})

    assert pg.database_url == "postgresql+asyncpg://u@db:5432/chirp"
    assert legacy.database_url == "postgresql+asyncpg://u@db/chirp"
    assert sqlite.database_url == "sqlite+aiosqlite:///data/chirp.db"


def test_production_refuses_the_placeholder_secret() -> None:
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        Settings.from_env({"CHIRP_ENV": "production"})


def test_production_refuses_weak_password_hashing() -> None:
    with pytest.raises(SettingsError, match="ARGON2"):
        Settings.from_env(
            {"CHIRP_ENV": "production", "SECRET_KEY": "k" * 40, "ARGON2_MEMORY_COST": "1024"}
        )


PRODUCTION = {
    "CHIRP_ENV": "production",
    "SECRET_KEY": "k" * 40,
    "STRIPE_API_KEY": "sk_live_real",
    "STRIPE_WEBHOOK_SECRET": "whsec_real",
    "SMTP_HOST": "smtp.example.com",
}


def test_production_with_real_secrets_is_accepted() -> None:
    settings = Settings.from_env(PRODUCTION)

    assert settings.is_production


@pytest.mark.parametrize("name", ["STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET", "SMTP_HOST"])
def test_production_refuses_placeholder_billing_and_mail_settings(name: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({key: value for key, value in PRODUCTION.items() if key != name})


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CHIRP_ENV": "staging"}, "CHIRP_ENV"),
        ({"PORT": "eighty"}, "PORT"),
        ({"EMBEDDED_WORKER": "maybe"}, "EMBEDDED_WORKER"),
        ({"WEBHOOK_TIMEOUT": "soon"}, "WEBHOOK_TIMEOUT"),
        ({"WEBHOOK_TIMEOUT": "0"}, "WEBHOOK_TIMEOUT"),
        ({"BILLING_RETRY_DAYS": "3,1"}, "BILLING_RETRY_DAYS"),
        ({"BILLING_RETRY_DAYS": "one"}, "BILLING_RETRY_DAYS"),
        ({"BILLING_RETRY_DAYS": "1,3,9"}, "BILLING_RETRY_DAYS"),
        ({"STRIPE_WEBHOOK_TOLERANCE": "0"}, "STRIPE_WEBHOOK_TOLERANCE"),
        ({"WEBHOOK_RETRY_BASE": "600", "WEBHOOK_RETRY_MAX": "60"}, "WEBHOOK_RETRY_BASE"),
        ({"WEBHOOK_MAX_ATTEMPTS": "0"}, "WEBHOOK_MAX_ATTEMPTS"),
        ({"WEBHOOK_SWEEP_INTERVAL": "0"}, "WEBHOOK_SWEEP_INTERVAL"),
        ({"GRAPHQL_MAX_COST": "0"}, "GRAPHQL_MAX_COST"),
        ({"GRAPHQL_MAX_COST": "lots"}, "GRAPHQL_MAX_COST"),
        ({"RATE_LIMIT_BUDGET_USER": "a lot"}, "RATE_LIMIT_BUDGET_USER"),
        ({"RETENTION_EVENTS_DAYS": "-1"}, "RETENTION_EVENTS_DAYS"),
        ({"RETENTION_EMAILS_DAYS": "a month"}, "RETENTION_EMAILS_DAYS"),
        ({"RETENTION_STRIPE_REQUESTS_DAYS": "1"}, "RETENTION_STRIPE_REQUESTS_DAYS"),
        ({"RETENTION_SWEEP_INTERVAL": "0"}, "RETENTION_SWEEP_INTERVAL"),
        ({"IDEMPOTENCY_KEY_RETENTION_HOURS": "0"}, "IDEMPOTENCY_KEY_RETENTION_HOURS"),
        ({"IDEMPOTENCY_KEY_RETENTION_HOURS": "a day"}, "IDEMPOTENCY_KEY_RETENTION_HOURS"),
        ({"IDEMPOTENCY_SWEEP_INTERVAL": "0"}, "IDEMPOTENCY_SWEEP_INTERVAL"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(env)


def test_idempotency_key_retention_and_sweep_interval() -> None:
    default = Settings.from_env({})
    chosen = Settings.from_env(
        {"IDEMPOTENCY_KEY_RETENTION_HOURS": "48", "IDEMPOTENCY_SWEEP_INTERVAL": "60"}
    )

    assert (default.idempotency_key_retention_hours, default.idempotency_sweep_interval) == (
        24,
        300.0,
    )
    assert (chosen.idempotency_key_retention_hours, chosen.idempotency_sweep_interval) == (
        48,
        60.0,
    )


def test_cors_origins_and_redis_switch_the_worker_default() -> None:
    settings = Settings.from_env(
        {"CORS_ORIGINS": "https://a.example, https://b.example ,", "REDIS_URL": "redis://r:6379/0"}
    )

    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.embedded_worker is False


def test_webhook_settings_are_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "WEBHOOK_TIMEOUT": "5",
            "WEBHOOK_RETRY_BASE": "0.5",
            "WEBHOOK_RETRY_MAX": "60",
            "WEBHOOK_MAX_ATTEMPTS": "3",
            "WEBHOOK_DISABLE_AFTER": "2",
            "WEBHOOK_FAILING_PERIOD": "0",
            "WEBHOOK_SWEEP_INTERVAL": "0.1",
        }
    )

    assert (settings.webhook_timeout, settings.webhook_retry_base) == (5.0, 0.5)
    assert (settings.webhook_retry_max, settings.webhook_max_attempts) == (60.0, 3)
    assert (settings.webhook_disable_after, settings.webhook_failing_period) == (2, 0.0)
    assert settings.webhook_sweep_interval == 0.1


def test_retention_has_production_defaults_and_reads_the_environment() -> None:
    defaults = Settings.from_env({})
    settings = Settings.from_env(
        {
            "RETENTION_EVENTS_DAYS": "3",
            "RETENTION_WEBHOOK_DELIVERIES_DAYS": "0",
            "RETENTION_EMAILS_DAYS": "14",
            "RETENTION_FAILED_LOGINS_DAYS": "90",
            "RETENTION_STRIPE_REQUESTS_DAYS": "2",
            "RETENTION_SWEEP_INTERVAL": "60",
        }
    )

    assert (defaults.retention_events_days, defaults.retention_webhook_deliveries_days) == (7, 30)
    assert (defaults.retention_emails_days, defaults.retention_failed_logins_days) == (30, 30)
    assert (defaults.retention_stripe_requests_days, defaults.retention_sweep_interval) == (7, 300)
    assert (settings.retention_events_days, settings.retention_webhook_deliveries_days) == (3, 0)
    assert (settings.retention_emails_days, settings.retention_failed_logins_days) == (14, 90)
    assert (settings.retention_stripe_requests_days, settings.retention_sweep_interval) == (2, 60)


def test_request_limits_are_read_from_the_environment_and_refused_when_tiny() -> None:
    defaults = Settings.from_env({})
    chosen = Settings.from_env(
        {
            "MAX_BODY_BYTES": "131072",
            "MAX_WEBHOOK_BODY_BYTES": "2097152",
            "MAX_QUERY_STRING_BYTES": "8192",
            "GRAPHQL_MAX_QUERY_LENGTH": "16384",
            "WS_MAX_MESSAGE_BYTES": "32768",
        }
    )

    assert (defaults.max_body_bytes, defaults.max_webhook_body_bytes) == (262144, 1048576)
    assert (defaults.max_query_string_bytes, defaults.max_query_length) == (32768, 32768)
    assert defaults.ws_max_message_bytes == 65536
    assert (chosen.max_body_bytes, chosen.max_webhook_body_bytes) == (131072, 2097152)
    assert (chosen.max_query_string_bytes, chosen.max_query_length) == (8192, 16384)
    assert chosen.ws_max_message_bytes == 32768
    with pytest.raises(SettingsError, match="MAX_BODY_BYTES"):
        Settings.from_env({"MAX_BODY_BYTES": "100"})
    with pytest.raises(SettingsError, match="RATE_LIMIT_POSTS_ACCOUNT"):
        Settings.from_env({"RATE_LIMIT_POSTS_ACCOUNT": "many"})


def test_query_cost_and_budgets_have_defaults_and_read_the_environment() -> None:
    default = Settings.from_env({})
    tuned = Settings.from_env(
        {"GRAPHQL_MAX_COST": "5000", "RATE_LIMIT_BUDGET_ANONYMOUS": "1000/10 minutes"}
    )

    assert default.max_query_cost == 10_000
    assert {k: v for k, v in default.rate_limits.items() if k.startswith("budget.")} == {
        "budget.anonymous": "50000/hour",
        "budget.user": "200000/hour",
        "budget.plus": "500000/hour",
        "budget.pro": "1000000/hour",
    }
    assert tuned.max_query_cost == 5000
    assert tuned.rate_limits["budget.anonymous"] == "1000/10 minutes"


def test_socket_subscription_and_log_in_concurrency_limits_are_read_and_checked() -> None:
    defaults = Settings.from_env({})
    chosen = Settings.from_env(
        {
            "WS_MAX_OPEN_PER_ADDRESS": "50",
            "WS_MAX_CONNECTIONS": "5000",
            "GRAPHQL_MAX_SUBSCRIPTION_COST": "100",
            "LOGIN_IN_FLIGHT_PER_ADDRESS": "8",
            "LOGIN_IN_FLIGHT_PER_ACCOUNT": "3",
        }
    )

    assert (defaults.ws_max_open_per_address, defaults.max_subscription_cost) == (200, 250)
    assert (defaults.login_in_flight_per_address, defaults.login_in_flight_per_account) == (4, 2)
    assert (chosen.ws_max_open_per_address, chosen.max_subscription_cost) == (50, 100)
    assert (defaults.ws_max_connections, chosen.ws_max_connections) == (20_000, 5000)
    assert (chosen.login_in_flight_per_address, chosen.login_in_flight_per_account) == (8, 3)
    for name in (
        "WS_MAX_OPEN_PER_ADDRESS",
        "WS_MAX_CONNECTIONS",
        "GRAPHQL_MAX_SUBSCRIPTION_COST",
        "LOGIN_IN_FLIGHT_PER_ACCOUNT",
    ):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: "0"})


def test_the_live_resume_window_and_replay_bound_are_read_and_checked() -> None:
    defaults = Settings.from_env({})
    chosen = Settings.from_env({"LIVE_RESUME_WINDOW": "900", "LIVE_RESUME_MAX_EVENTS": "200"})

    assert (defaults.live_resume_window, defaults.live_resume_max_events) == (
        timedelta(minutes=10),
        1000,
    )
    assert (chosen.live_resume_window, chosen.live_resume_max_events) == (
        timedelta(minutes=15),
        200,
    )
    for name in ("LIVE_RESUME_WINDOW", "LIVE_RESUME_MAX_EVENTS"):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: "0"})
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: "soon"})
