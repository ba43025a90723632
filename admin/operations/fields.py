"""Operations read-outs for admins: `systemStatus` and `operationCosts` (ADMIN only). Both
describe the one server process that answers; each instance keeps its own figures."""

from __future__ import annotations

from typing import Annotated

import strawberry

from models.access.roles import Role
from resolvers import operations as resolvers
from resolvers.context import Info
from schema.core.checks import checked, page_size
from schema.core.permissions import requires_role
from telemetry.costs import OperationCost as CostRow


@strawberry.type(description="The version of one component of the running server.")
class ComponentVersion:
    name: str = strawberry.field(description="The component: chirp, python, strawberry, ...")
    version: str = strawberry.field(description="Its version string.")


@strawberry.type(description="The migration the database is at, and the one the code needs.")
class MigrationStatus:
    current: str | None = strawberry.field(description="The database's revision; null if none.")
    head: str | None = strawberry.field(description="The revision this code expects.")
    at_head: bool = strawberry.field(description="True when the two agree.")


@strawberry.type(description="How the answering server process and its dependencies are doing.")
class SystemStatus:
    versions: list[ComponentVersion] = strawberry.field(
        description="Versions of Chirp and its main libraries (a short, fixed list)."
    )
    database_version: str = strawberry.field(description="The database server's version.")
    migration: MigrationStatus = strawberry.field(description="Migration state.")
    job_queue_depth: int = strawberry.field(
        description="Jobs queued and not yet acknowledged (Redis), or running (embedded)."
    )
    outbox_unnumbered: int = strawberry.field(
        description="Outbox events not yet ordered (counted up to 100,000)."
    )
    outbox_unprocessed: int = strawberry.field(
        description="Ordered events not yet published and handed to jobs (up to 100,000)."
    )
    outbox_lag_seconds: float = strawberry.field(
        description="Age in seconds of the oldest event still pending; 0 when none."
    )
    redis_connected: bool | None = strawberry.field(
        description="Whether the pub/sub connection is up; null without Redis."
    )
    subscriptions: int = strawberry.field(description="Live subscriptions in this process.")
    draining: bool = strawberry.field(description="True once this process is shutting down.")
    uptime_seconds: float = strawberry.field(description="Seconds since the process started.")
    process_id: int = strawberry.field(description="The operating-system process id.")


@strawberry.type(
    description="What one GraphQL operation name cost in this process since it started. "
    "Names are bounded: anonymous operations are `unnamed`, names past the first 200 `other`."
)
class OperationCost:
    name: str = strawberry.field(description="The operation name, `unnamed` or `other`.")
    operation_type: str = strawberry.field(description="query or mutation.")
    count: int = strawberry.field(description="Operations run.")
    error_count: int = strawberry.field(description="Operations with a top-level error.")
    total_seconds: float = strawberry.field(description="Time spent, in seconds, in all.")
    mean_ms: float = strawberry.field(description="Mean time per operation, milliseconds.")
    max_ms: float = strawberry.field(description="Slowest single operation, milliseconds.")
    mean_statements: float = strawberry.field(description="Mean SQL statements per operation.")
    mean_sql_ms: float = strawberry.field(description="Mean SQL time per operation, ms.")

    @classmethod
    def from_row(cls, row: CostRow) -> OperationCost:
        count = max(row.count, 1)
        return cls(
            name=row.name,
            operation_type=row.type,
            count=row.count,
            error_count=row.errors,
            total_seconds=round(row.total_seconds, 6),
            mean_ms=round(row.total_seconds * 1000 / count, 3),
            max_ms=round(row.max_seconds * 1000, 3),
            mean_statements=round(row.statements / count, 2),
            mean_sql_ms=round(row.sql_seconds * 1000 / count, 3),
        )


@strawberry.type
class OperationsQueries:
    @strawberry.field(
        description="The answering server process's versions, migration, job queue and outbox "
        "backlog. Each instance answers for itself.",
        extensions=requires_role(Role.ADMIN),
    )
    async def system_status(self, info: Info) -> SystemStatus:
        status = await resolvers.system_status(info.context)
        return SystemStatus(
            versions=[ComponentVersion(name=k, version=v) for k, v in status.versions.items()],
            database_version=status.database_version,
            migration=MigrationStatus(
                current=status.migration_current,
                head=status.migration_head,
                at_head=status.migration_current == status.migration_head,
            ),
            job_queue_depth=status.job_queue_depth,
            outbox_unnumbered=status.outbox_unnumbered,
            outbox_unprocessed=status.outbox_unprocessed,
            outbox_lag_seconds=round(status.outbox_lag_seconds, 3),
            redis_connected=status.redis_connected,
            subscriptions=status.subscriptions,
            draining=status.draining,
            uptime_seconds=round(status.uptime_seconds, 3),
            process_id=status.process_id,
        )

    @strawberry.field(
        description="Per-operation cost statistics of the answering process since it started, "
        "the most total time first. Subscriptions are not included.",
        extensions=requires_role(Role.ADMIN),
    )
    def operation_costs(
        self,
        first: Annotated[
            int,
            strawberry.argument(
                description="How many operations to list: 1 to 100.", metadata=checked(page_size)
            ),
        ] = 20,
    ) -> list[OperationCost]:
        return [OperationCost.from_row(row) for row in resolvers.operation_costs(first=first)]
