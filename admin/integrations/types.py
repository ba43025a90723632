"""GraphQL types of the integrations back office: webhook endpoints, their deliveries and
each attempt. No field exposes a signing secret; it is shown once, by the mutation that
made it."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeAlias, cast

import strawberry

from models.integrations import catalogue, tables
from models.integrations.tables import DELIVERED, FAILED, PENDING
from resolvers import integrations as resolvers
from resolvers.context import Info
from resolvers.paging import global_id
from schema.core.paging import After, Connection, First, page_of


def _event_type_enum() -> Any:
    """The GraphQL enum of `catalogue.DELIVERABLE`, the one list of deliverable events:
    ACCOUNT_CREATED stands for `account.created`, and so on."""
    members: dict[str, Any] = {
        event_type.upper().replace(".", "_"): strawberry.enum_value(
            event_type, description=deliverable.description
        )
        for event_type, deliverable in catalogue.DELIVERABLE.items()
    }
    built = Enum("WebhookEventType", members)  # type: ignore[misc]  # members from the catalogue
    return strawberry.enum(built, description="An event type a webhook endpoint can subscribe to.")


_EVENT_TYPE_ENUM: Any = _event_type_enum()
# mypy cannot see members built at run time; to it the enum is a plain Enum.
if TYPE_CHECKING:
    WebhookEventType: TypeAlias = Enum
else:
    WebhookEventType = _EVENT_TYPE_ENUM


def event_type(value: str) -> WebhookEventType:
    return cast(WebhookEventType, _EVENT_TYPE_ENUM(value))


def event_type_values(types: list[WebhookEventType]) -> list[str]:
    return [str(t.value) for t in types]


@strawberry.enum(description="Where a delivery stands.")
class WebhookDeliveryStatus(Enum):
    PENDING = strawberry.enum_value(
        PENDING, description="Not delivered yet: the next attempt is at `nextAttemptAt`."
    )
    DELIVERED = strawberry.enum_value(DELIVERED, description="The receiver answered 2xx.")
    FAILED = strawberry.enum_value(
        FAILED, description="Given up after the last allowed attempt (WEBHOOK_MAX_ATTEMPTS)."
    )


@strawberry.type(description="One HTTP attempt of a delivery.")
class WebhookAttempt:
    number: int = strawberry.field(description="1 for the first attempt, 2 for the next...")
    attempted_at: datetime = strawberry.field(description="When it finished (UTC).")
    status_code: int | None = strawberry.field(
        description="The receiver's HTTP status, or null when no answer came (see `error`)."
    )
    succeeded: bool = strawberry.field(description="True for a 2xx answer.")
    response_excerpt: str = strawberry.field(
        description="The start of the receiver's answer body: at most 500 characters."
    )
    error: str = strawberry.field(
        description="Why no answer came (timeout, refused connection or address); else empty."
    )
    duration_ms: int = strawberry.field(description="How long the attempt took, in ms.")

    @classmethod
    def from_row(cls, row: tables.WebhookAttempt) -> WebhookAttempt:
        code = row.status_code
        return cls(
            number=row.number,
            attempted_at=row.created_at,
            status_code=code,
            succeeded=code is not None and 200 <= code < 300,
            response_excerpt=row.response_excerpt,
            error=row.error,
            duration_ms=row.duration_ms,
        )


@strawberry.type(description="One event sent (or to be sent) to one endpoint.")
class WebhookDelivery:
    id: str = strawberry.field(description="The delivery id, as in the Chirp-Delivery-Id header.")
    event_id: str = strawberry.field(description="The event id, as in the Chirp-Event-Id header.")
    event_type: WebhookEventType = strawberry.field(description="The event's type.")
    status: WebhookDeliveryStatus = strawberry.field(description="Where the delivery stands.")
    attempt_count: int = strawberry.field(description="Attempts made so far.")
    next_attempt_at: datetime | None = strawberry.field(
        description="When a pending delivery is tried next (UTC); null once it is done. While "
        "the endpoint is disabled, pending deliveries wait."
    )
    delivered_at: datetime | None = strawberry.field(description="When it succeeded (UTC).")
    created_at: datetime = strawberry.field(description="When the event was queued for it.")
    attempts: list[WebhookAttempt] = strawberry.field(
        description="Its latest attempts, newest first: at most 20."
    )

    @classmethod
    def from_row(
        cls, row: tables.WebhookDelivery, attempts: list[tables.WebhookAttempt]
    ) -> WebhookDelivery:
        return cls(
            id=catalogue.public_delivery_id(row.id),
            event_id=catalogue.public_event_id(row.event_id),
            event_type=event_type(row.event_type),
            status=WebhookDeliveryStatus(row.status),
            attempt_count=row.attempts,
            next_attempt_at=row.next_attempt_at if row.status == PENDING else None,
            delivered_at=row.delivered_at,
            created_at=row.created_at,
            attempts=[WebhookAttempt.from_row(a) for a in attempts],
        )


@page_of(
    "delivery", "A page of an endpoint's deliveries, newest first.", "The deliveries, in order."
)
class WebhookDeliveryConnection(Connection[WebhookDelivery]):
    pass


@strawberry.type(description="A URL that receives Chirp's events, signed with its secret.")
class WebhookEndpoint:
    id: strawberry.ID = strawberry.field(description="The endpoint's global id.")
    url: str = strawberry.field(description="Where events are POSTed.")
    description: str = strawberry.field(description="What it is for; at most 500 characters.")
    event_types: list[WebhookEventType] = strawberry.field(
        description="The event types it receives."
    )
    enabled: bool = strawberry.field(description="Whether events are being delivered to it.")
    disabled_at: datetime | None = strawberry.field(description="When it was turned off.")
    disabled_reason: str = strawberry.field(
        description="Why it was turned off: the staff member's reason, or the automatic "
        "turn-off after too many failures in a row. Empty while enabled."
    )
    consecutive_failures: int = strawberry.field(
        description="Failed attempts in a row; a success resets it."
    )
    secret_rotated_at: datetime | None = strawberry.field(
        description="When its signing secret was last rotated; null if never."
    )
    created_at: datetime = strawberry.field(description="When it was added (UTC).")
    updated_at: datetime = strawberry.field(description="When it last changed (UTC).")
    key: strawberry.Private[int]

    @classmethod
    def from_row(cls, row: tables.WebhookEndpoint) -> WebhookEndpoint:
        return cls(
            id=strawberry.ID(global_id("WebhookEndpoint", row.id)),
            url=row.url,
            description=row.description,
            event_types=[event_type(t) for t in row.event_types],
            enabled=row.enabled,
            disabled_at=row.disabled_at,
            disabled_reason=row.disabled_reason,
            consecutive_failures=row.consecutive_failures,
            secret_rotated_at=row.secret_rotated_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            key=row.id,
        )

    @strawberry.field(description="Its deliveries, newest first, each with its attempts.")
    async def deliveries(
        self, info: Info, first: First, after: After = None
    ) -> WebhookDeliveryConnection:
        found = await resolvers.deliveries(
            info.context, endpoint_id=self.key, first=first, after=after
        )
        return WebhookDeliveryConnection.from_page(
            found.page, lambda row: WebhookDelivery.from_row(row, found.attempts.get(row.id, []))
        )
