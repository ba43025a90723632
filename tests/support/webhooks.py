"""GraphQL documents and arrangements for webhook endpoints and exports."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.runtime import Services
from models.audit.tables import AuditEntry
from tests.support.graphql import GraphQLClient
from tests.support.staff import Staff

ENDPOINT_FIELDS = """
  id url description eventTypes enabled disabledAt disabledReason consecutiveFailures
  secretRotatedAt createdAt updatedAt
"""
CREATE = f"""
mutation ($input: CreateWebhookEndpointInput!) {{
  createWebhookEndpoint(input: $input) {{
    __typename
    ... on WebhookEndpointSecretPayload {{ secret endpoint {{ {ENDPOINT_FIELDS} }} }}
    ... on UserError {{ code field message }}
  }}
}}
"""
UPDATE = f"""
mutation ($input: UpdateWebhookEndpointInput!) {{
  updateWebhookEndpoint(input: $input) {{
    __typename
    ... on WebhookEndpointPayload {{ endpoint {{ {ENDPOINT_FIELDS} }} }}
    ... on UserError {{ code field message }}
  }}
}}
"""
_PAYLOADS = {
    "enableWebhookEndpoint": "... on WebhookEndpointPayload { endpoint { id enabled disabledReason consecutiveFailures } }",
    "disableWebhookEndpoint": "... on WebhookEndpointPayload { endpoint { id enabled disabledReason consecutiveFailures } }",
    "rotateWebhookSecret": "... on WebhookEndpointSecretPayload { secret endpoint { id secretRotatedAt } }",
    "deleteWebhookEndpoint": "... on DeletedWebhookEndpoint { id }",
}
ACTION = {
    name: f"""
mutation ($input: WebhookEndpointActionInput!) {{
  {name}(input: $input) {{ __typename {payload} ... on UserError {{ code field message }} }}
}}
"""
    for name, payload in _PAYLOADS.items()
}
ENDPOINTS = f"query {{ webhookEndpoints {{ {ENDPOINT_FIELDS} }} }}"
DELIVERIES = """
query ($id: ID!, $first: Int!, $after: String) {
  webhookEndpoint(id: $id) {
    id enabled consecutiveFailures
    deliveries(first: $first, after: $after) {
      edges { cursor node {
        id eventId eventType status attemptCount nextAttemptAt deliveredAt createdAt
        attempts { number attemptedAt statusCode succeeded responseExcerpt error durationMs }
      } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


async def create_endpoint(
    gql: GraphQLClient,
    admin: Staff,
    url: str,
    event_types: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A new endpoint (its payload: `secret` and `endpoint`), made by an ADMIN."""
    variables = {
        "input": {
            "url": url,
            "eventTypes": event_types or ["ACCOUNT_CREATED"],
            "reason": "connect the CRM",
            **extra,
        }
    }
    result: dict[str, Any] = (await gql.execute(CREATE, variables, token=admin.token))[
        "createWebhookEndpoint"
    ]
    assert result["__typename"] == "WebhookEndpointSecretPayload", result
    return result


async def act(
    gql: GraphQLClient, admin: Staff, mutation: str, endpoint_id: str, reason: str = "ops"
) -> dict[str, Any]:
    data = await gql.execute(
        ACTION[mutation], {"input": {"id": endpoint_id, "reason": reason}}, token=admin.token
    )
    result: dict[str, Any] = data[mutation]
    return result


async def audit_entries(services: Services, action_prefix: str = "") -> list[AuditEntry]:
    async with services.runtime.read_sessionmaker() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action.startswith(action_prefix))
            .order_by(AuditEntry.id)
        )
        return list(rows)
