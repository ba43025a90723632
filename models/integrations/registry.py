"""Integrations' registrations: the webhook jobs, the events that call for them, the
delivery sweep (with its recovery of lost fan-outs) and the integrations' error codes."""

from __future__ import annotations

from models.integrations import catalogue, errors, tables
from models.integrations.jobs import (
    ATTEMPT_WEBHOOK,
    CREATE_DELIVERIES,
    attempt_webhook_delivery,
    create_webhook_deliveries,
)
from models.integrations.sweep import DeliverySweep
from models.registry import Domain, Event, JobCall, Services, Sweep


def jobs_for(event: Event) -> list[JobCall]:
    """A deliverable event gets its webhook deliveries."""
    if catalogue.is_deliverable(event.type):
        return [(CREATE_DELIVERIES, {"event_seq": event.seq})]
    return []


def _delivery_sweep(services: Services) -> DeliverySweep:
    return DeliverySweep(
        services.transactions,
        services.read_sessionmaker,
        services.enqueue,
        services.webhook_policy,
    )


DOMAIN = Domain(
    name="integrations",
    tables=(tables,),
    jobs={
        CREATE_DELIVERIES: create_webhook_deliveries,
        ATTEMPT_WEBHOOK: attempt_webhook_delivery,
    },
    jobs_for=jobs_for,
    sweeps=(Sweep("webhook-sweep", _delivery_sweep, every="webhook_sweep_interval"),),
    error_codes=(
        errors.InvalidWebhookUrl.code,
        errors.InvalidEventTypes.code,
        errors.TooManyWebhookEndpoints.code,
        errors.InvalidDateRange.code,
    ),
)
