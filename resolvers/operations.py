"""Operations read-outs for admins: the process's system status and operation costs."""

from __future__ import annotations

from resolvers.context import Context
from resolvers.paging import check_first
from resolvers.status import Status
from telemetry.costs import COSTS, OperationCost


async def system_status(ctx: Context) -> Status:
    """What this process sees of itself and its dependencies, now."""
    probes = ctx.runtime.probes
    assert probes is not None, "the runtime is built with its probes"
    return await probes.system_status()


def operation_costs(*, first: int) -> list[OperationCost]:
    """The operations that took the most time in this process, most first."""
    return COSTS.top(check_first(first))
