"""Outbound webhooks in the back office (ADMIN only, every change audited with a reason)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from admin.integrations.types import WebhookEndpoint, WebhookEventType, event_type_values
from models.access.roles import Role
from models.errors import DomainError
from models.integrations.specs import EndpointChange, EndpointSpec
from resolvers import integrations as resolvers
from resolvers.context import Info
from resolvers.paging import parse_global_id
from schema.core.errors import (
    INPUT,
    ConflictError,
    NotFoundError,
    ValidationError,
)
from schema.core.permissions import requires_role
from schema.core.results import mutation, outcome

REASON = "Why, for the audit log: 3 to 1000 characters."


def _endpoint_key(value: strawberry.ID) -> int:
    return parse_global_id(value, expect="WebhookEndpoint", field="id")[1]


@strawberry.input(description="A new webhook endpoint.")
class CreateWebhookEndpointInput:
    url: str = strawberry.field(
        description="Where to POST events: an https:// URL of at most 2000 characters, on a "
        "public address (outside production, http://localhost and http://127.0.0.1 too)."
    )
    event_types: list[WebhookEventType] = strawberry.field(
        description="The event types to send it: at least one."
    )
    description: str = strawberry.field(
        default="", description="What it is for (which tool, who owns it); at most 500."
    )
    reason: str = strawberry.field(description=REASON)

    def to_spec(self) -> EndpointSpec:
        """The new endpoint as the domain takes it."""
        return EndpointSpec(
            url=self.url,
            event_types=tuple(event_type_values(self.event_types)),
            description=self.description,
            reason=self.reason,
        )


@strawberry.input(description="Changes to a webhook endpoint; omitted fields stay as they are.")
class UpdateWebhookEndpointInput:
    id: strawberry.ID = strawberry.field(description="The endpoint's global id.")
    url: str | None = strawberry.field(default=None, description="A new URL (same rules).")
    event_types: list[WebhookEventType] | None = strawberry.field(
        default=None, description="The new set of event types: at least one."
    )
    description: str | None = strawberry.field(default=None, description="At most 500 chars.")
    reason: str = strawberry.field(description=REASON)

    def to_spec(self) -> EndpointChange:
        """The change as the domain takes it; a malformed id is INVALID_ID."""
        types = self.event_types
        return EndpointChange(
            endpoint_id=_endpoint_key(self.id),
            reason=self.reason,
            url=self.url,
            event_types=None if types is None else tuple(event_type_values(types)),
            description=self.description,
        )


@strawberry.input(description="A webhook endpoint to act on, and why.")
class WebhookEndpointActionInput:
    id: strawberry.ID = strawberry.field(description="The endpoint's global id.")
    reason: str = strawberry.field(description=REASON)


@strawberry.type(description="A webhook endpoint after a change.")
class WebhookEndpointPayload:
    endpoint: WebhookEndpoint = strawberry.field(description="The endpoint.")


@strawberry.type(description="A webhook endpoint and its new signing secret.")
class WebhookEndpointSecretPayload:
    endpoint: WebhookEndpoint = strawberry.field(description="The endpoint.")
    secret: str = strawberry.field(
        description="The signing secret (`whsec_...`), shown this once: give it to the "
        "receiving developers to verify `Chirp-Signature`. It cannot be read back; rotate it "
        "to get a new one."
    )


@strawberry.type(description="A webhook endpoint was deleted.")
class DeletedWebhookEndpoint:
    id: strawberry.ID = strawberry.field(description="The deleted endpoint's global id.")


CreateWebhookEndpointResult = Annotated[
    WebhookEndpointSecretPayload | ValidationError | ConflictError, outcome("createWebhookEndpoint")
]
UpdateWebhookEndpointResult = Annotated[
    WebhookEndpointPayload | ValidationError | NotFoundError,
    strawberry.union(
        "UpdateWebhookEndpointResult",
        description="The outcome of `updateWebhookEndpoint`, `enableWebhookEndpoint` or "
        "`disableWebhookEndpoint`: its payload or a UserError.",
    ),
]
RotateWebhookSecretResult = Annotated[
    WebhookEndpointSecretPayload | ValidationError | NotFoundError, outcome("rotateWebhookSecret")
]
DeleteWebhookEndpointResult = Annotated[
    DeletedWebhookEndpoint | ValidationError | NotFoundError, outcome("deleteWebhookEndpoint")
]


@strawberry.type
class IntegrationQueries:
    @strawberry.field(
        description="Every webhook endpoint, oldest first (at most 50 exist). Secrets are "
        "never shown.",
        extensions=requires_role(Role.ADMIN),
    )
    async def webhook_endpoints(self, info: Info) -> list[WebhookEndpoint]:
        return [WebhookEndpoint.from_row(r) for r in await resolvers.endpoints(info.context)]

    @strawberry.field(
        description="One webhook endpoint by its global id; null if there is none.",
        extensions=requires_role(Role.ADMIN),
    )
    async def webhook_endpoint(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The endpoint's id.")],
    ) -> WebhookEndpoint | None:
        try:
            key = _endpoint_key(id)
        except DomainError:
            return None
        row = await resolvers.endpoint(info.context, endpoint_id=key)
        return None if row is None else WebhookEndpoint.from_row(row)


@strawberry.type
class IntegrationMutations:
    @mutation(
        description="Add a webhook endpoint, enabled. Returns its signing secret, shown once. "
        "Audited with the reason (never the secret).",
        extensions=requires_role(Role.ADMIN),
    )
    async def create_webhook_endpoint(
        self, info: Info, input: Annotated[CreateWebhookEndpointInput, INPUT]
    ) -> CreateWebhookEndpointResult:
        row, secret = await resolvers.create_endpoint(info.context, spec=input.to_spec())
        return WebhookEndpointSecretPayload(endpoint=WebhookEndpoint.from_row(row), secret=secret)

    @mutation(
        description="Change a webhook endpoint's URL, event types or description. Audited "
        "with the values before and after.",
        extensions=requires_role(Role.ADMIN),
    )
    async def update_webhook_endpoint(
        self, info: Info, input: Annotated[UpdateWebhookEndpointInput, INPUT]
    ) -> UpdateWebhookEndpointResult:
        row = await resolvers.update_endpoint(info.context, change=input.to_spec())
        return WebhookEndpointPayload(endpoint=WebhookEndpoint.from_row(row))

    @mutation(
        description="Start delivering to an endpoint again (and reset its failure count); "
        "deliveries that waited while it was off resume. Audited. Idempotent.",
        extensions=requires_role(Role.ADMIN),
    )
    async def enable_webhook_endpoint(
        self, info: Info, input: Annotated[WebhookEndpointActionInput, INPUT]
    ) -> UpdateWebhookEndpointResult:
        return await _set_enabled(info, input, enabled=True)

    @mutation(
        description="Stop delivering to an endpoint; its pending deliveries wait until it is "
        "enabled again. Audited. Idempotent.",
        extensions=requires_role(Role.ADMIN),
    )
    async def disable_webhook_endpoint(
        self, info: Info, input: Annotated[WebhookEndpointActionInput, INPUT]
    ) -> UpdateWebhookEndpointResult:
        return await _set_enabled(info, input, enabled=False)

    @mutation(
        description="Give an endpoint a new signing secret, shown once. For 24 hours the old "
        "secret signs too (a second `v1=` in Chirp-Signature), so receivers can switch "
        "without losing events. Audited (never the secret).",
        extensions=requires_role(Role.ADMIN),
    )
    async def rotate_webhook_secret(
        self, info: Info, input: Annotated[WebhookEndpointActionInput, INPUT]
    ) -> RotateWebhookSecretResult:
        row, secret = await resolvers.rotate_endpoint_secret(
            info.context, endpoint_id=_endpoint_key(input.id), reason=input.reason
        )
        return WebhookEndpointSecretPayload(endpoint=WebhookEndpoint.from_row(row), secret=secret)

    @mutation(
        description="Delete an endpoint with its deliveries and their log. Audited.",
        extensions=requires_role(Role.ADMIN),
    )
    async def delete_webhook_endpoint(
        self, info: Info, input: Annotated[WebhookEndpointActionInput, INPUT]
    ) -> DeleteWebhookEndpointResult:
        await resolvers.delete_endpoint(
            info.context, endpoint_id=_endpoint_key(input.id), reason=input.reason
        )
        return DeletedWebhookEndpoint(id=input.id)


async def _set_enabled(
    info: Info, input: WebhookEndpointActionInput, *, enabled: bool
) -> UpdateWebhookEndpointResult:
    row = await resolvers.set_endpoint_enabled(
        info.context, endpoint_id=_endpoint_key(input.id), enabled=enabled, reason=input.reason
    )
    return WebhookEndpointPayload(endpoint=WebhookEndpoint.from_row(row))
