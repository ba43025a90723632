"""Idempotency's registrations: its table and the expiry sweep of its keys."""

from __future__ import annotations

from models.idempotency import tables
from models.idempotency.sweep import ExpiredKeysSweep
from models.registry import Domain, Services, Sweep


def _expiry_sweep(services: Services) -> ExpiredKeysSweep:
    return ExpiredKeysSweep(services.transactions, services.read_sessionmaker)


DOMAIN = Domain(
    name="idempotency",
    tables=(tables,),
    sweeps=(Sweep("idempotency-sweep", _expiry_sweep, every="idempotency_sweep_interval"),),
)
