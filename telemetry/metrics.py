"""Every Prometheus metric Chirp exports, defined once, in the process-wide default registry.

Metrics are per process: Prometheus scrapes each `chirp serve` and `chirp worker` on its own
and sums in queries. Label values are bounded: operation names and error codes go through
`BoundedLabel`, everything else takes values from a fixed set. Series an alert rule needs
are created at import with a zero, so a rule sees 0 rather than nothing (payments and
inbound webhooks among them)."""

from __future__ import annotations

import re

from prometheus_client import Counter, Gauge, Histogram, Info

LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FAST = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)
SLOW = (0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0)
# Jobs: most (a fan-out, a duplicate attempt) take a few milliseconds; some take minutes.
JOB = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0)

UNNAMED = "unnamed"
OTHER = "other"


class BoundedLabel:
    """Admits the first `limit` distinct values that look like GraphQL names; later new
    values share `other`, and a missing value is `unnamed`. Bounds cardinality whatever
    clients send (a process sees at most limit + 2 values)."""

    _NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._seen: set[str] = set()

    def __call__(self, value: str | None) -> str:
        if not value:
            return UNNAMED
        if value in self._seen:
            return value
        if len(self._seen) < self.limit and self._NAME.match(value):
            self._seen.add(value)
            return value
        return OTHER

    def known(self, value: str | None) -> str:
        """The label of a value without admitting it (for documents that failed)."""
        if not value:
            return UNNAMED
        return value if value in self._seen else OTHER


operation_label = BoundedLabel(200)
error_code_label = BoundedLabel(50)

BUILD = Info("chirp_build", "The running Chirp version and Python version.")
READY = Gauge("chirp_ready", "1 while /readyz would answer 200, 0 otherwise (set at each scrape).")

HTTP_REQUESTS = Counter(
    "chirp_http_requests",
    "HTTP requests answered, by route (/graphql, /readyz, ... or other), method and status.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "chirp_http_request_duration_seconds",
    "Time from request to the end of the response body, by route.",
    ["route"],
    buckets=LATENCY,
)
GRAPHQL_OPERATIONS = Counter(
    "chirp_graphql_operations",
    "GraphQL operations finished, by bounded operation name, type and outcome: ok, "
    "client_error (a top-level error the client caused) or server_error (a masked, "
    "unexpected failure).",
    ["operation", "type", "outcome"],
)
GRAPHQL_DURATION = Histogram(
    "chirp_graphql_operation_duration_seconds",
    "GraphQL operation time, parse to result (a subscription: its whole life is not "
    "observed here), by bounded operation name and type.",
    ["operation", "type"],
    buckets=LATENCY,
)
GRAPHQL_ERRORS = Counter(
    "chirp_graphql_errors",
    "Top-level GraphQL errors by extensions.code (bounded; other codes share OTHER).",
    ["code"],
)
SLOW_OPERATIONS = Counter(
    "chirp_graphql_slow_operations",
    "Operations slower than SLOW_OPERATION_MS (each one is also logged).",
)

DB_QUERY_DURATION = Histogram(
    "chirp_db_query_duration_seconds",
    "SQL statement time on the driver, by statement kind.",
    ["statement"],
    buckets=FAST,
)
DB_POOL = Gauge(
    "chirp_db_pool_connections",
    "Database pool connections by state (checked_out, idle, overflow), at each scrape.",
    ["state"],
)
DB_POOL_SIZE = Gauge("chirp_db_pool_size", "Configured database pool size (DB_POOL_SIZE).")

REDIS_DURATION = Histogram(
    "chirp_redis_command_duration_seconds",
    "Redis round trips Chirp makes itself (publish, enqueue, ping, queue_depth).",
    ["command"],
    buckets=FAST,
)
RATE_LIMITED = Counter(
    "chirp_rate_limited",
    "Requests, fields and connections refused by a rate limit or budget, by limit kind.",
    ["limit"],
)
OPERATION_COST = Histogram(
    "chirp_graphql_operation_cost",
    "The static cost of admitted GraphQL operations (schema/core/cost.py), to set "
    "GRAPHQL_MAX_COST and the budgets by.",
    buckets=(1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000),
)
RATE_LIMIT_STORAGE_ERRORS = Counter(
    "chirp_rate_limit_storage_errors",
    "Rate-limit counts that Redis failed and this process's memory took instead.",
)
REDIS_ERRORS = Counter("chirp_redis_errors", "Redis commands that failed, by command.", ["command"])

WEBSOCKETS = Gauge("chirp_websocket_connections", "Open WebSocket connections.")
SLOW_CONSUMERS = Counter(
    "chirp_websocket_slow_consumers",
    "WebSockets closed because a send did not complete within WS_SEND_TIMEOUT (the client "
    "stopped reading).",
)
SUBSCRIPTIONS = Gauge("chirp_subscriptions_active", "Live subscriptions in this process.")

EVENTS_PUBLISHED = Counter(
    "chirp_events_published", "Outbox events published to the event channel.", ["type"]
)
EVENTS_DELIVERED = Counter(
    "chirp_events_delivered", "Events handed to subscribers (one per event and subscriber)."
)
GC_PAUSE = Histogram(
    "chirp_gc_pause_seconds",
    "Garbage-collection pauses by generation (2: a full collection, which walks every object).",
    ["generation"],
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
LIVE_READS = Counter(
    "chirp_live_reads",
    "Shared reads of a live event's post (models/timeline/shared.py): one per event and "
    "document group in a process, whatever the number of its subscribers.",
)
LIVE_READ_VIEWERS = Histogram(
    "chirp_live_read_viewers",
    "Subscribers answered by one shared read of a live event.",
    buckets=(1, 2, 5, 10, 50, 100, 500, 1000, 5000, 10000),
)
LIVE_READ_SECONDS = Histogram(
    "chirp_live_read_seconds",
    "Time to read and shape one live event for all the subscribers of a group.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
OUTBOX_PUBLISH_LAG = Histogram(
    "chirp_outbox_publish_lag_seconds",
    "Time from an event's commit to its publication.",
    buckets=LATENCY,
)
OUTBOX_BACKLOG = Gauge(
    "chirp_outbox_backlog",
    "Outbox events waiting, by stage (unnumbered: not yet ordered; unprocessed: ordered but "
    "not yet published and handed to jobs), counted up to 100,000, at each scrape.",
    ["stage"],
)
OUTBOX_OLDEST_AGE = Gauge(
    "chirp_outbox_oldest_pending_age_seconds",
    "Age of the oldest event not yet published and processed (0 when none): the outbox's "
    "delivery lag, at each scrape.",
)

JOB_QUEUE_DEPTH = Gauge(
    "chirp_job_queue_depth", "Jobs queued and not yet acknowledged, at each scrape."
)
JOBS_ENQUEUED = Counter("chirp_jobs_enqueued", "Jobs enqueued, by task.", ["task"])
JOBS = Counter("chirp_jobs", "Job runs finished, by task and outcome.", ["task", "outcome"])
JOBS_SKIPPED = Counter(
    "chirp_jobs_skipped",
    "Ledger job messages not run because the job was already done, parked or running "
    "(a duplicate from a re-enqueue or a redelivery), by task.",
    ["task"],
)
JOBS_REQUEUED = Counter(
    "chirp_jobs_requeued",
    "Ledger jobs the job sweep enqueued again (lost with the queue, a dead worker's, a retry "
    "whose backoff is over), by task.",
    ["task"],
)
JOBS_PARKED = Counter(
    "chirp_jobs_parked",
    "Ledger jobs parked for an operator after their last allowed attempt, by task.",
    ["task"],
)
JOB_LEDGER = Gauge(
    "chirp_job_ledger",
    "Ledger jobs by state (pending: not done yet; parked: waiting for an operator, see "
    "`chirp jobs parked`), counted up to 100,000, at each scrape.",
    ["state"],
)
JOB_LEDGER_OLDEST_AGE = Gauge(
    "chirp_job_ledger_oldest_pending_age_seconds",
    "Age of the oldest ledger job not done yet (0 when none), at each scrape.",
)
JOB_DURATION = Histogram("chirp_job_duration_seconds", "Job run time.", ["task"], buckets=JOB)

WEBHOOKS = Counter(
    "chirp_webhooks",
    "Webhooks processed (inbound: received from a provider; outbound: delivered to a "
    "subscriber: one per attempt), by outcome.",
    ["direction", "outcome"],
)
WEBHOOK_DURATION = Histogram(
    "chirp_webhook_duration_seconds", "Webhook processing time.", ["direction"], buckets=SLOW
)

SIGNUPS = Counter("chirp_signups", "Accounts created.")
POSTS_CREATED = Counter("chirp_posts_created", "Posts and replies created (reposts excluded).")
PAYMENTS = Counter(
    "chirp_payments",
    "Payments settled, by outcome: by Chirp's own charge or by the Stripe webhook that came first.",
    ["outcome"],
)
RECONCILE_MISMATCHES = Counter(
    "chirp_billing_reconcile_mismatches",
    "Differences between Chirp's payments and Stripe found by reconciliation, by kind "
    "(missing_in_chirp, missing_in_stripe, status_differs, amount_differs, refunded_differs).",
    ["kind"],
)
RECONCILE_RUNS = Counter(
    "chirp_billing_reconcile_runs",
    "Reconciliation runs, by outcome (clean, mismatches, error).",
    ["outcome"],
)

RETENTION_PRUNED = Counter(
    "chirp_retention_pruned_rows",
    "Rows removed by this process's retention sweeps, by table.",
    ["table"],
)
RETENTION_LAST_SUCCESS = Gauge(
    "chirp_retention_last_success_timestamp_seconds",
    "When this process's retention sweep last ran with no table failing (Unix time; 0 "
    "before the first).",
)
RETENTION_TABLES = (
    "events",
    "webhook_fanouts",
    "webhook_deliveries",
    "outbound_emails",
    "failed_logins",
    "billing_stripe_requests",
)
IDEMPOTENCY_KEYS_EXPIRED = Counter(
    "chirp_idempotency_keys_expired",
    "Idempotency keys deleted by the expiry sweep (past IDEMPOTENCY_KEY_RETENTION_HOURS).",
)
IDEMPOTENT_REQUESTS = Counter(
    "chirp_idempotent_requests",
    "Mutations sent with an idempotency key, by outcome (first: ran; replayed: the stored "
    "answer; in_use, reused, invalid: refused).",
    ["outcome"],
)

SUCCEEDED, FAILED = "succeeded", "failed"


def _create_zero_series() -> None:
    for outcome in (SUCCEEDED, FAILED):
        PAYMENTS.labels(outcome)
        for direction in ("inbound", "outbound"):
            WEBHOOKS.labels(direction, outcome)
    for direction in ("inbound", "outbound"):
        WEBHOOK_DURATION.labels(direction)
    for code in ("INTERNAL_SERVER_ERROR", "UNAUTHENTICATED", "FORBIDDEN"):
        GRAPHQL_ERRORS.labels(code)
    for stage in ("unnumbered", "unprocessed"):
        OUTBOX_BACKLOG.labels(stage)
    for state in ("pending", "parked"):
        JOB_LEDGER.labels(state)
    for outcome in ("first", "replayed", "in_use", "reused", "invalid"):
        IDEMPOTENT_REQUESTS.labels(outcome)
    for state in ("checked_out", "idle", "overflow"):
        DB_POOL.labels(state)
    for table in RETENTION_TABLES:
        RETENTION_PRUNED.labels(table)
    for command in ("publish", "enqueue", "ping", "queue_depth"):
        REDIS_DURATION.labels(command)
        REDIS_ERRORS.labels(command)


_create_zero_series()
