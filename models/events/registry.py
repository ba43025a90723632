"""The outbox's registrations: its tables (the event log and the job ledger) and the job
sweep (the jobs an event calls for belong to the domains that act on it)."""

from __future__ import annotations

from models.events import tables
from models.events.sweep import JobSweep
from models.registry import Domain, Services, Sweep


def _job_sweep(services: Services) -> JobSweep:
    return JobSweep(
        services.transactions,
        services.read_sessionmaker,
        services.enqueue_ticket,
        services.job_policy,
    )


DOMAIN = Domain(
    name="events",
    tables=(tables,),
    sweeps=(Sweep("job-sweep", _job_sweep, every="job_sweep_interval"),),
)
