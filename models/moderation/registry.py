"""Moderation's registrations: the suspension sweep and its error codes."""

from __future__ import annotations

from models.moderation import errors, tables
from models.moderation.sweep import SuspensionSweep
from models.registry import Domain, Services, Sweep


def _suspension_sweep(services: Services) -> SuspensionSweep:
    return SuspensionSweep(services.transactions, services.read_sessionmaker)


DOMAIN = Domain(
    name="moderation",
    tables=(tables,),
    sweeps=(Sweep("suspension-sweep", _suspension_sweep, every="moderation_sweep_interval"),),
    error_codes=(
        errors.AccountSuspended.code,
        errors.CannotModerateSelf.code,
        errors.NoteRequired.code,
        errors.NoteTooLong.code,
        errors.InvalidExpiry.code,
        errors.InvalidAssignee.code,
        errors.CaseClosed.code,
        errors.AlreadyInForce.code,
        errors.NotInForce.code,
        errors.AlreadyAppealed.code,
        errors.AppealDecided.code,
    ),
)
