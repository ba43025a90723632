"""Typed settings, built once from the environment and passed to everything that needs them."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Literal

from limits import parse_many as parse_rate

Environment = Literal["development", "test", "production"]
LogFormat = Literal["json", "console"]
TRACE_EXPORTERS = ("none", "console", "otlp")

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./chirp.db"
PLACEHOLDER_SECRET = "dev-insecure-secret-change-me"  # noqa: S105
# Development talks to localstripe (`make run` starts it); these are its placeholder secrets.
LOCAL_STRIPE_API_BASE = "http://127.0.0.1:8420"
PLACEHOLDER_STRIPE_KEY = "sk_test_chirp_local"
PLACEHOLDER_STRIPE_WEBHOOK_SECRET = "whsec_chirp_local_development"  # noqa: S105


# Rate limits (docs/operations.md#rate-limits): rule name -> rate, each overridable by the
# environment variable RATE_LIMIT_<NAME> (the name upper-cased, dots as underscores), e.g.
# RATE_LIMIT_LOGIN_ACCOUNT_IP="5/15 minutes". Several windows separated by ";" must all have
# room: each longer one, once full, locks out for longer (a growing back-off).
DEFAULT_RATE_LIMITS: dict[str, str] = {
    # Failed log-ins (wrong password) per account and client address (IPv6 by /64); the
    # right password clears them. A refused attempt never reaches the password check.
    "login.account_ip": "5/15 minutes;10/hour;20/day",
    # Failed log-ins per client address, whatever the account (credential stuffing).
    "login.ip": "20/15 minutes;100/day",
    # Failed log-ins per account, whatever the address; an address that has logged in to
    # the account before is not held back by it, so a flood cannot lock the owner out.
    "login.account": "20/hour;100/day",
    # Attempts, each aliased field counting as one.
    "sign_up.ip": "10/hour;30/day",
    "posts.account": "20/minute;300/hour",
    "follows.account": "30/minute;400/day",
    "reports.account": "20/hour;100/day",
    # HTTP requests to /graphql per client address (refused whole: 429).
    "requests.ip": "1200/minute",
    # WebSocket connections opened per client address (429 before the handshake completes)
    # and per account (closed with 4029 at connection_init); messages per connection (4029).
    "ws_connect.ip": "60/minute",
    "ws_connect.account": "30/minute",
    "ws_messages.connection": "120/minute",
    # Query budgets: the static cost of a client's operations per rolling hour (docs/api.md);
    # an account's plan names its rule (models/billing/catalogue.py), anonymous clients count
    # per IP group.
    "budget.anonymous": "50000/hour",
    "budget.user": "200000/hour",
    "budget.plus": "500000/hour",
    "budget.pro": "1000000/hour",
}


class SettingsError(ValueError):
    """The environment describes a configuration Chirp refuses to run with."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    env: Environment = "development"
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    redis_prefix: str = "chirp"
    secret_key: str = PLACEHOLDER_SECRET
    host: str = "127.0.0.1"
    port: int = 8000
    cors_origins: tuple[str, ...] = ()
    session_ttl: timedelta = timedelta(days=30)
    argon2_time_cost: int = 3
    argon2_memory_cost: int = 65536
    max_query_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 2000
    # The most one operation may cost (schema/core/cost.py); more is QUERY_TOO_COSTLY.
    max_query_cost: int = 10_000
    # A subscription's selection is resolved again for every event it delivers, for as long
    # as it lives, but charged once: its cost is capped lower (docs/api.md#query-cost).
    max_subscription_cost: int = 250
    ws_queue_size: int = 256
    # A WebSocket send not done in this many seconds closes the socket with 4008 (0: never).
    ws_send_timeout: float = 10.0
    dispatch_interval: float = 1.0
    # Resuming a subscription with `after` (docs/api.md#live-updates): a cursor whose event
    # was recorded longer ago than the window is too old; within it, at most this many
    # events are replayed to one subscriber.
    live_resume_window: timedelta = timedelta(minutes=10)
    live_resume_max_events: int = 1000
    db_pool_size: int = 20
    # Seconds a request waits for a pooled connection before it is shed (OVERLOADED).
    db_pool_timeout: float = 30.0
    embedded_worker: bool = True
    audit_retention_days: int = 730
    # The audit chain's HMAC key; empty means derived from SECRET_KEY (see audit_chain_key).
    audit_key: str = ""
    moderation_sweep_interval: float = 30.0
    # Idempotent mutations (docs/api.md#retrying-mutations-safely): how long a key and its
    # answer are kept, and seconds between sweeps deleting expired keys.
    idempotency_key_retention_hours: int = 24
    idempotency_sweep_interval: float = 300.0
    # Outbound webhooks (docs/integrations.md): request timeout, retry schedule, auto-disable.
    webhook_timeout: float = 10.0
    webhook_retry_base: float = 30.0
    webhook_retry_max: float = 21600.0
    webhook_max_attempts: int = 12
    webhook_disable_after: int = 10
    webhook_failing_period: float = 3600.0
    webhook_sweep_interval: float = 1.0
    # The job ledger (docs/operations.md, "Background jobs"): a job not done this long after
    # it was enqueued or started is enqueued again; failures back off; then it is parked.
    job_reclaim_seconds: float = 30.0
    job_retry_base: float = 5.0
    job_retry_max: float = 3600.0
    job_max_attempts: int = 20
    job_sweep_interval: float = 5.0
    job_retention_days: float = 7.0
    log_format: LogFormat = "console"
    log_level: str = "INFO"
    metrics_token: str | None = None
    traces_exporter: str = "none"
    traces_sample_ratio: float = 1.0
    slow_operation_ms: int = 500
    drain_seconds: float = 0.0
    worker_metrics_port: int | None = None
    # Stripe (docs/billing.md): empty STRIPE_API_BASE means Stripe itself.
    stripe_api_key: str = PLACEHOLDER_STRIPE_KEY
    stripe_api_base: str = LOCAL_STRIPE_API_BASE
    stripe_webhook_secret: str = PLACEHOLDER_STRIPE_WEBHOOK_SECRET
    stripe_webhook_tolerance: int = 300
    stripe_timeout: float = 10.0
    # Billing: days after a failed payment at which it is retried; grace before the free plan.
    billing_retry_days: tuple[int, ...] = (1, 3, 5)
    billing_grace_days: int = 7
    billing_freeze_on_dispute: bool = True
    # Compiled operations (app/compiled.py): known reads answered without the general
    # executor. Off: the general path answers everything.
    compiled_operations: bool = True
    # Seconds a shared cache (a CDN, nginx) may keep an anonymous compiled read sent with
    # GET (`Cache-Control: public, max-age`); 0: nothing is marked cacheable.
    anonymous_cache_seconds: int = 5
    # Shared live delivery (schema/live/shared.py): each live event's post read and shaped
    # once per document for all its subscribers in a process. Off: per subscriber.
    live_shared_delivery: bool = True
    # `chirp serve` freezes long-lived objects out of the garbage collector's sight and
    # collects everything once per this many seconds (telemetry/gcpause.py); 0: Python's own.
    gc_compact_seconds: float = 600.0
    billing_sweep_interval: float = 60.0
    # Mail: without SMTP_HOST, mail is written to the log instead of sent (development only).
    smtp_host: str | None = None
    smtp_port: int = 25
    mail_from: str = "Chirp <no-reply@chirp.invalid>"
    # Rate limits by rule name (DEFAULT_RATE_LIMITS above).
    rate_limits: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    # Peers whose X-Forwarded-For is believed (addresses or networks, e.g. 10.0.0.0/8): the
    # client IP that limits and audit entries see comes from that header only behind them.
    trusted_proxies: tuple[str, ...] = ()
    # Request limits (docs/operations.md#rate-limits): bodies (413), query strings (414),
    # GraphQL documents (in characters; comments count) and WebSocket messages (1009).
    max_body_bytes: int = 256 * 1024
    max_webhook_body_bytes: int = 1024 * 1024
    max_query_string_bytes: int = 32 * 1024
    max_query_length: int = 32 * 1024
    ws_max_message_bytes: int = 64 * 1024
    # WebSockets open at once per client address (IPv6 by /64) in one process: the rate of
    # new connections alone would let one address pile up idle sockets.
    ws_max_open_per_address: int = 200
    # WebSockets one process holds (about 50 KiB each when idle); past it, 503 at handshake.
    ws_max_connections: int = 20_000
    # Password checks running at once per client address and per account, in one process:
    # the rules counting failures after the check would otherwise let a burst pass together.
    login_in_flight_per_address: int = 4
    login_in_flight_per_account: int = 2
    # Retention (docs/operations.md#retention): days each table keeps finished rows (0: kept
    # for ever), and how often the sweep runs. Events must outlive the live resume window.
    retention_events_days: int = 7
    retention_webhook_deliveries_days: int = 30
    retention_emails_days: int = 30
    retention_failed_logins_days: int = 30
    retention_stripe_requests_days: int = 7
    retention_sweep_interval: float = 300.0
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def audit_chain_key(self) -> bytes:
        """The key of the audit log's HMAC chain: AUDIT_KEY, or one derived from SECRET_KEY.
        Entries are verifiable only with the key they were written with: set AUDIT_KEY
        explicitly before ever rotating SECRET_KEY."""
        if self.audit_key:
            return self.audit_key.encode()
        return hmac.new(self.secret_key.encode(), b"chirp audit chain", hashlib.sha256).digest()

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def check(self) -> Settings:
        """Refuse configurations that are unsafe outside development."""
        if self.is_production:
            if self.secret_key == PLACEHOLDER_SECRET or len(self.secret_key) < 32:
                raise SettingsError(
                    "SECRET_KEY must be set to a random value of at least 32 characters "
                    "in production (for example: python -c 'import secrets; "
                    "print(secrets.token_urlsafe(48))')"
                )
            if self.audit_key and len(self.audit_key) < 32:
                raise SettingsError("AUDIT_KEY must be at least 32 characters in production")
            if self.argon2_memory_cost < 19456:
                raise SettingsError("ARGON2_MEMORY_COST below the OWASP minimum in production")
            if self.stripe_api_key == PLACEHOLDER_STRIPE_KEY or not self.stripe_api_key:
                raise SettingsError("STRIPE_API_KEY must be set in production")
            if self.stripe_webhook_secret == PLACEHOLDER_STRIPE_WEBHOOK_SECRET:
                raise SettingsError("STRIPE_WEBHOOK_SECRET must be set in production")
            if not self.smtp_host:
                raise SettingsError("SMTP_HOST must be set in production")
            if self.metrics_token is not None and len(self.metrics_token) < 16:
                raise SettingsError("METRICS_TOKEN must be at least 16 characters in production")
        if self.traces_exporter not in TRACE_EXPORTERS:
            raise SettingsError(
                f"TRACES_EXPORTER must be one of {', '.join(TRACE_EXPORTERS)}, "
                f"not {self.traces_exporter!r}"
            )
        if not self.billing_retry_days or list(self.billing_retry_days) != sorted(
            set(self.billing_retry_days)
        ):
            raise SettingsError("BILLING_RETRY_DAYS must be increasing whole days, e.g. 1,3,5")
        if self.billing_retry_days[0] < 1 or self.billing_grace_days < self.billing_retry_days[-1]:
            raise SettingsError(
                "BILLING_RETRY_DAYS must start at 1 or later and end within BILLING_GRACE_DAYS"
            )
        if self.stripe_webhook_tolerance < 1 or not 0 < self.stripe_timeout <= 60:
            raise SettingsError(
                "STRIPE_WEBHOOK_TOLERANCE must be positive; STRIPE_TIMEOUT in (0, 60] seconds"
            )
        if self.idempotency_key_retention_hours < 1 or self.idempotency_sweep_interval <= 0:
            raise SettingsError(
                "IDEMPOTENCY_KEY_RETENTION_HOURS must be at least 1 and "
                "IDEMPOTENCY_SWEEP_INTERVAL positive"
            )
        for name, rate in self.rate_limits.items():
            try:
                parse_rate(rate)
            except ValueError as exc:
                raise SettingsError(
                    f"{rate_limit_variable(name)} must be a rate such as '5/15 minutes', "
                    f"not {rate!r}"
                ) from exc
        sizes = (
            self.max_body_bytes,
            self.max_webhook_body_bytes,
            self.max_query_string_bytes,
            self.max_query_length,
            self.ws_max_message_bytes,
        )
        if min(sizes) < 1024:
            raise SettingsError(
                "MAX_BODY_BYTES, MAX_WEBHOOK_BODY_BYTES, MAX_QUERY_STRING_BYTES, "
                "GRAPHQL_MAX_QUERY_LENGTH and WS_MAX_MESSAGE_BYTES must be at least 1024"
            )
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError as exc:
                raise SettingsError(
                    f"TRUSTED_PROXIES must list addresses or networks, not {proxy!r}"
                ) from exc
        if self.ws_max_connections < 1:
            raise SettingsError("WS_MAX_CONNECTIONS must be at least 1")
        if self.ws_max_open_per_address < 1:
            raise SettingsError("WS_MAX_OPEN_PER_ADDRESS must be at least 1")
        if self.login_in_flight_per_address < 1 or self.login_in_flight_per_account < 1:
            raise SettingsError(
                "LOGIN_IN_FLIGHT_PER_ADDRESS and LOGIN_IN_FLIGHT_PER_ACCOUNT must be at least 1"
            )
        if self.max_query_cost < 1 or self.max_subscription_cost < 1:
            raise SettingsError(
                "GRAPHQL_MAX_COST and GRAPHQL_MAX_SUBSCRIPTION_COST must be at least 1"
            )
        if self.live_resume_window < timedelta(seconds=1) or self.live_resume_max_events < 1:
            raise SettingsError(
                "LIVE_RESUME_WINDOW must be at least 1 second; LIVE_RESUME_MAX_EVENTS at least 1"
            )
        if self.log_format not in ("json", "console"):
            raise SettingsError(f"LOG_FORMAT must be json or console, not {self.log_format!r}")
        if not 0 < self.webhook_timeout <= 60:
            raise SettingsError("WEBHOOK_TIMEOUT must be more than 0 and at most 60 seconds")
        if not 0 < self.webhook_retry_base <= self.webhook_retry_max:
            raise SettingsError("WEBHOOK_RETRY_BASE must be positive and at most WEBHOOK_RETRY_MAX")
        if self.webhook_max_attempts < 1 or self.webhook_disable_after < 1:
            raise SettingsError("WEBHOOK_MAX_ATTEMPTS and WEBHOOK_DISABLE_AFTER must be at least 1")
        if self.webhook_sweep_interval <= 0 or self.webhook_failing_period < 0:
            raise SettingsError(
                "WEBHOOK_SWEEP_INTERVAL must be positive; WEBHOOK_FAILING_PERIOD not negative"
            )
        if not 0 < self.job_retry_base <= self.job_retry_max:
            raise SettingsError("JOB_RETRY_BASE must be positive and at most JOB_RETRY_MAX")
        if self.job_reclaim_seconds <= 0 or self.job_sweep_interval <= 0:
            raise SettingsError("JOB_RECLAIM_SECONDS and JOB_SWEEP_INTERVAL must be positive")
        if self.job_max_attempts < 1 or self.job_retention_days <= 0:
            raise SettingsError(
                "JOB_MAX_ATTEMPTS must be at least 1 and JOB_RETENTION_DAYS positive"
            )
        self._check_retention()
        return self

    def _check_retention(self) -> None:
        days = {
            "RETENTION_EVENTS_DAYS": self.retention_events_days,
            "RETENTION_WEBHOOK_DELIVERIES_DAYS": self.retention_webhook_deliveries_days,
            "RETENTION_EMAILS_DAYS": self.retention_emails_days,
            "RETENTION_FAILED_LOGINS_DAYS": self.retention_failed_logins_days,
            "RETENTION_STRIPE_REQUESTS_DAYS": self.retention_stripe_requests_days,
        }
        for name, count in days.items():
            if count < 0:
                raise SettingsError(f"{name} must be 0 (keep for ever) or more days")
        if self.retention_sweep_interval <= 0:
            raise SettingsError("RETENTION_SWEEP_INTERVAL must be positive")
        # Stripe keeps a key 24 hours: a stored one must outlive it, with a margin.
        if 0 < self.retention_stripe_requests_days < 2:
            raise SettingsError("RETENTION_STRIPE_REQUESTS_DAYS must be 0 or at least 2")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from environment variables (see docs/configuration.md)."""
        env = dict(os.environ if environ is None else environ)
        chirp_env = env.get("CHIRP_ENV", "development")
        if chirp_env not in ("development", "test", "production"):
            raise SettingsError(
                f"CHIRP_ENV must be development, test or production, not {chirp_env!r}"
            )
        origins = tuple(o.strip() for o in env.get("CORS_ORIGINS", "").split(",") if o.strip())
        return cls(
            env=chirp_env,  # type: ignore[arg-type]
            database_url=normalise_database_url(env.get("DATABASE_URL", DEFAULT_DATABASE_URL)),
            redis_url=env.get("REDIS_URL") or None,
            redis_prefix=env.get("REDIS_PREFIX", "chirp"),
            secret_key=env.get("SECRET_KEY", PLACEHOLDER_SECRET),
            host=env.get("HOST", "127.0.0.1"),
            port=_int(env, "PORT", 8000),
            cors_origins=origins,
            session_ttl=timedelta(days=_int(env, "SESSION_TTL_DAYS", 30)),
            argon2_time_cost=_int(env, "ARGON2_TIME_COST", 3),
            argon2_memory_cost=_int(env, "ARGON2_MEMORY_COST", 65536),
            max_query_depth=_int(env, "GRAPHQL_MAX_DEPTH", 12),
            max_aliases=_int(env, "GRAPHQL_MAX_ALIASES", 30),
            max_tokens=_int(env, "GRAPHQL_MAX_TOKENS", 2000),
            max_query_cost=_int(env, "GRAPHQL_MAX_COST", 10_000),
            max_subscription_cost=_int(env, "GRAPHQL_MAX_SUBSCRIPTION_COST", 250),
            ws_queue_size=_int(env, "WS_QUEUE_SIZE", 256),
            ws_send_timeout=_float(env, "WS_SEND_TIMEOUT", 10.0),
            dispatch_interval=float(env.get("DISPATCH_INTERVAL", "1.0")),
            live_resume_window=timedelta(seconds=_float(env, "LIVE_RESUME_WINDOW", 600.0)),
            live_resume_max_events=_int(env, "LIVE_RESUME_MAX_EVENTS", 1000),
            db_pool_size=_int(env, "DB_POOL_SIZE", 20),
            db_pool_timeout=_float(env, "DB_POOL_TIMEOUT", 30.0),
            audit_retention_days=_int(env, "AUDIT_RETENTION_DAYS", 730),
            audit_key=env.get("AUDIT_KEY", ""),
            moderation_sweep_interval=_float(env, "MODERATION_SWEEP_INTERVAL", 30.0),
            idempotency_key_retention_hours=_int(env, "IDEMPOTENCY_KEY_RETENTION_HOURS", 24),
            idempotency_sweep_interval=_float(env, "IDEMPOTENCY_SWEEP_INTERVAL", 300.0),
            embedded_worker=_flag(env, "EMBEDDED_WORKER", default=not env.get("REDIS_URL")),
            webhook_timeout=_float(env, "WEBHOOK_TIMEOUT", 10.0),
            webhook_retry_base=_float(env, "WEBHOOK_RETRY_BASE", 30.0),
            webhook_retry_max=_float(env, "WEBHOOK_RETRY_MAX", 21600.0),
            webhook_max_attempts=_int(env, "WEBHOOK_MAX_ATTEMPTS", 12),
            webhook_disable_after=_int(env, "WEBHOOK_DISABLE_AFTER", 10),
            webhook_failing_period=_float(env, "WEBHOOK_FAILING_PERIOD", 3600.0),
            webhook_sweep_interval=_float(env, "WEBHOOK_SWEEP_INTERVAL", 1.0),
            job_reclaim_seconds=_float(env, "JOB_RECLAIM_SECONDS", 30.0),
            job_retry_base=_float(env, "JOB_RETRY_BASE", 5.0),
            job_retry_max=_float(env, "JOB_RETRY_MAX", 3600.0),
            job_max_attempts=_int(env, "JOB_MAX_ATTEMPTS", 20),
            job_sweep_interval=_float(env, "JOB_SWEEP_INTERVAL", 5.0),
            job_retention_days=_float(env, "JOB_RETENTION_DAYS", 7.0),
            log_format=env.get(  # type: ignore[arg-type]
                "LOG_FORMAT", "json" if chirp_env == "production" else "console"
            ),
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            metrics_token=env.get("METRICS_TOKEN") or None,
            traces_exporter=env.get("TRACES_EXPORTER", "none"),
            traces_sample_ratio=_float(env, "TRACES_SAMPLE_RATIO", 1.0),
            slow_operation_ms=_int(env, "SLOW_OPERATION_MS", 500),
            worker_metrics_port=_int(env, "WORKER_METRICS_PORT", 0) or None,
            drain_seconds=_float(env, "DRAIN_SECONDS", 5.0 if chirp_env == "production" else 0.0),
            stripe_api_key=env.get("STRIPE_API_KEY", PLACEHOLDER_STRIPE_KEY),
            stripe_api_base=env.get("STRIPE_API_BASE", LOCAL_STRIPE_API_BASE),
            stripe_webhook_secret=env.get(
                "STRIPE_WEBHOOK_SECRET", PLACEHOLDER_STRIPE_WEBHOOK_SECRET
            ),
            stripe_webhook_tolerance=_int(env, "STRIPE_WEBHOOK_TOLERANCE", 300),
            stripe_timeout=_float(env, "STRIPE_TIMEOUT", 10.0),
            billing_retry_days=_days(env, "BILLING_RETRY_DAYS", (1, 3, 5)),
            billing_grace_days=_int(env, "BILLING_GRACE_DAYS", 7),
            billing_freeze_on_dispute=_flag(env, "BILLING_FREEZE_ON_DISPUTE", default=True),
            compiled_operations=_flag(env, "COMPILED_OPERATIONS", default=True),
            anonymous_cache_seconds=_int(env, "ANONYMOUS_CACHE_SECONDS", 5),
            live_shared_delivery=_flag(env, "LIVE_SHARED_DELIVERY", default=True),
            gc_compact_seconds=_float(env, "GC_COMPACT_SECONDS", 600.0),
            billing_sweep_interval=_float(env, "BILLING_SWEEP_INTERVAL", 60.0),
            smtp_host=env.get("SMTP_HOST") or None,
            smtp_port=_int(env, "SMTP_PORT", 25),
            mail_from=env.get("MAIL_FROM", "Chirp <no-reply@chirp.invalid>"),
            rate_limits={
                name: env.get(rate_limit_variable(name)) or rate
                for name, rate in DEFAULT_RATE_LIMITS.items()
            },
            trusted_proxies=tuple(
                p.strip() for p in env.get("TRUSTED_PROXIES", "").split(",") if p.strip()
            ),
            max_body_bytes=_int(env, "MAX_BODY_BYTES", 256 * 1024),
            max_webhook_body_bytes=_int(env, "MAX_WEBHOOK_BODY_BYTES", 1024 * 1024),
            max_query_string_bytes=_int(env, "MAX_QUERY_STRING_BYTES", 32 * 1024),
            max_query_length=_int(env, "GRAPHQL_MAX_QUERY_LENGTH", 32 * 1024),
            ws_max_message_bytes=_int(env, "WS_MAX_MESSAGE_BYTES", 64 * 1024),
            ws_max_open_per_address=_int(env, "WS_MAX_OPEN_PER_ADDRESS", 200),
            ws_max_connections=_int(env, "WS_MAX_CONNECTIONS", 20_000),
            login_in_flight_per_address=_int(env, "LOGIN_IN_FLIGHT_PER_ADDRESS", 4),
            login_in_flight_per_account=_int(env, "LOGIN_IN_FLIGHT_PER_ACCOUNT", 2),
            retention_events_days=_int(env, "RETENTION_EVENTS_DAYS", 7),
            retention_webhook_deliveries_days=_int(env, "RETENTION_WEBHOOK_DELIVERIES_DAYS", 30),
            retention_emails_days=_int(env, "RETENTION_EMAILS_DAYS", 30),
            retention_failed_logins_days=_int(env, "RETENTION_FAILED_LOGINS_DAYS", 30),
            retention_stripe_requests_days=_int(env, "RETENTION_STRIPE_REQUESTS_DAYS", 7),
            retention_sweep_interval=_float(env, "RETENTION_SWEEP_INTERVAL", 300.0),
        ).check()


def rate_limit_variable(rule: str) -> str:
    """The environment variable that overrides a rate-limit rule."""
    return "RATE_LIMIT_" + rule.upper().replace(".", "_").replace("-", "_")


def normalise_database_url(url: str) -> str:
    """Accept the URLs operators write and pick the async driver Chirp uses."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be an integer, not {raw!r}") from exc


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from exc


def _days(env: Mapping[str, str], name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return tuple(int(part) for part in raw.split(","))
    except ValueError as exc:
        raise SettingsError(f"{name} must be whole days separated by commas, not {raw!r}") from exc


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")
