"""Matrix calls for integrations: webhook endpoints and the accounts export."""

from __future__ import annotations

from typing import Any

from tests.support.matrix import Call, MatrixEnv
from tests.support.staff import Staff
from tests.support.webhooks import ACTION, CREATE, ENDPOINTS, UPDATE, create_endpoint

HOOK = "http://127.0.0.1:9/hooks"  # nothing listens; the matrix delivers nothing


async def _endpoint_id(env: MatrixEnv) -> str:
    """An endpoint to act on: an existing one (endpoints are capped at 50), else a new one."""
    existing = (await env.gql.execute(ENDPOINTS, token=env.admin.token))["webhookEndpoints"]
    if existing:
        endpoint_id: str = existing[0]["id"]
        return endpoint_id
    admin = Staff(env.admin.id, env.admin.handle, env.admin.token, secret="", recovery_codes=())
    created = await create_endpoint(env.gql, admin, HOOK, ["POST_REPORTED"])
    endpoint_id = created["endpoint"]["id"]
    return endpoint_id


async def _by_id(env: MatrixEnv) -> dict[str, Any]:
    return {"id": await _endpoint_id(env)}


async def _create(env: MatrixEnv) -> dict[str, Any]:
    return {"input": {"url": HOOK, "eventTypes": ["POST_REPORTED"], "reason": "matrix check"}}


async def _update(env: MatrixEnv) -> dict[str, Any]:
    return {"input": {"id": await _endpoint_id(env), "description": "m", "reason": "matrix"}}


async def _action(env: MatrixEnv) -> dict[str, Any]:
    return {"input": {"id": await _endpoint_id(env), "reason": "matrix check"}}


async def _export(env: MatrixEnv) -> dict[str, Any]:
    return {"input": {"reason": "matrix check", "first": 1}}


CALLS: dict[str, Call] = {
    "Query.webhookEndpoints": Call(ENDPOINTS, path=("webhookEndpoints",)),
    "Query.webhookEndpoint": Call(
        "query ($id: ID!) { webhookEndpoint(id: $id) { id } }", _by_id, path=("webhookEndpoint",)
    ),
    "Mutation.createWebhookEndpoint": Call(CREATE, _create, path=("createWebhookEndpoint",)),
    "Mutation.updateWebhookEndpoint": Call(UPDATE, _update, path=("updateWebhookEndpoint",)),
    "Mutation.enableWebhookEndpoint": Call(
        ACTION["enableWebhookEndpoint"], _action, path=("enableWebhookEndpoint",)
    ),
    "Mutation.disableWebhookEndpoint": Call(
        ACTION["disableWebhookEndpoint"], _action, path=("disableWebhookEndpoint",)
    ),
    "Mutation.rotateWebhookSecret": Call(
        ACTION["rotateWebhookSecret"], _action, path=("rotateWebhookSecret",)
    ),
    "Mutation.deleteWebhookEndpoint": Call(
        ACTION["deleteWebhookEndpoint"], _action, path=("deleteWebhookEndpoint",)
    ),
    "Mutation.exportAccounts": Call(
        "mutation ($input: ExportAccountsInput!) { exportAccounts(input: $input) { __typename } }",
        _export,
        path=("exportAccounts",),
    ),
}
