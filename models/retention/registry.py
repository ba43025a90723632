"""Retention's registrations: the sweep that prunes the tables that only grow."""

from __future__ import annotations

from models.registry import Domain, Services, Sweep
from models.retention.sweep import RetentionSweep


def _retention_sweep(services: Services) -> RetentionSweep:
    return RetentionSweep(services.transactions, services.read_sessionmaker, services.retention)


DOMAIN = Domain(
    name="retention",
    sweeps=(Sweep("retention-sweep", _retention_sweep, every="retention_sweep_interval"),),
)
