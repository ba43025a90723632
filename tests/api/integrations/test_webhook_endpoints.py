"""Configuring webhook endpoints: ADMIN only, every change audited with a reason, the
signing secret shown once and never audited, bad input refused with stable codes."""

from __future__ import annotations

import json

from app.runtime import Services
from tests.support.accounts import sign_up
from tests.support.graphql import GraphQLClient
from tests.support.staff import make_staff
from tests.support.webhooks import (
    ACTION,
    CREATE,
    ENDPOINTS,
    UPDATE,
    act,
    audit_entries,
    create_endpoint,
)

HOOK = "http://127.0.0.1:9/hooks"  # nothing listens: these tests deliver nothing
UNKNOWN_ID = "V2ViaG9va0VuZHBvaW50Ojk5OTk="  # WebhookEndpoint:9999
ACTIONS = [
    "enableWebhookEndpoint",
    "disableWebhookEndpoint",
    "rotateWebhookSecret",
    "deleteWebhookEndpoint",
]


async def test_an_admin_creates_an_endpoint_and_sees_its_secret_only_then(
    gql: GraphQLClient, services: Services
) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")

    created = await create_endpoint(
        gql, admin, HOOK, ["ACCOUNT_CREATED", "POST_REPORTED"], description="CRM sync"
    )
    listed = (await gql.execute(ENDPOINTS, token=admin.token))["webhookEndpoints"]
    no_secret_field = await gql.errors("{ webhookEndpoints { secret } }", token=admin.token)

    assert created["secret"].startswith("whsec_") and len(created["secret"]) > 40
    endpoint = created["endpoint"]
    assert endpoint["url"] == HOOK and endpoint["enabled"] is True
    assert endpoint["eventTypes"] == ["ACCOUNT_CREATED", "POST_REPORTED"]
    assert listed == [endpoint]
    assert "secret" in no_secret_field[0]["message"]
    [entry] = await audit_entries(services, "webhook.")
    assert entry.action == "webhook.create" and entry.actor_handle == "boss"
    assert entry.reason == "connect the CRM" and entry.before is None
    assert entry.after == {
        "url": HOOK,
        "description": "CRM sync",
        "event_types": ["account.created", "post.reported"],
        "enabled": True,
    }


async def test_each_change_is_audited_with_before_and_after_and_never_the_secret(
    gql: GraphQLClient, services: Services
) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")
    created = await create_endpoint(gql, admin, HOOK)
    endpoint_id = created["endpoint"]["id"]

    updated = (
        await gql.execute(
            UPDATE,
            {
                "input": {
                    "id": endpoint_id,
                    "description": "marketing",
                    "eventTypes": ["ACCOUNT_SUSPENDED"],
                    "reason": "scope change",
                }
            },
            token=admin.token,
        )
    )["updateWebhookEndpoint"]
    disabled = await act(gql, admin, "disableWebhookEndpoint", endpoint_id, "vendor outage")
    again = await act(gql, admin, "disableWebhookEndpoint", endpoint_id, "vendor outage")
    enabled = await act(gql, admin, "enableWebhookEndpoint", endpoint_id, "vendor is back")
    rotated = await act(gql, admin, "rotateWebhookSecret", endpoint_id, "secret leaked")
    deleted = await act(gql, admin, "deleteWebhookEndpoint", endpoint_id, "contract ended")
    listed = (await gql.execute(ENDPOINTS, token=admin.token))["webhookEndpoints"]

    assert updated["endpoint"]["description"] == "marketing"
    assert updated["endpoint"]["eventTypes"] == ["ACCOUNT_SUSPENDED"]
    assert disabled["endpoint"]["enabled"] is False
    assert disabled["endpoint"]["disabledReason"] == "vendor outage"
    assert again == disabled
    assert enabled["endpoint"] == {
        "id": endpoint_id,
        "enabled": True,
        "disabledReason": "",
        "consecutiveFailures": 0,
    }
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    assert rotated["endpoint"]["secretRotatedAt"] is not None
    assert deleted == {"__typename": "DeletedWebhookEndpoint", "id": endpoint_id}
    assert listed == []
    entries = await audit_entries(services, "webhook.")
    assert [(e.action, e.reason) for e in entries] == [
        ("webhook.create", "connect the CRM"),
        ("webhook.update", "scope change"),
        ("webhook.disable", "vendor outage"),  # once: the repeat changed nothing
        ("webhook.enable", "vendor is back"),
        ("webhook.rotate_secret", "secret leaked"),
        ("webhook.delete", "contract ended"),
    ]
    update = entries[1]
    assert update.before is not None and update.after is not None
    assert update.before["event_types"] == ["account.created"]
    assert update.after["event_types"] == ["account.suspended"]
    assert entries[-1].before is not None and entries[-1].after is None
    everything = json.dumps([[e.before, e.after, e.reason] for e in entries])
    assert created["secret"] not in everything and rotated["secret"] not in everything
    assert "whsec_" not in everything


async def test_without_admin_every_integration_field_is_forbidden(
    gql: GraphQLClient, services: Services
) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    user = await sign_up(gql, "plain")
    endpoint_id = (await create_endpoint(gql, admin, HOOK))["endpoint"]["id"]
    action = {"input": {"id": endpoint_id, "reason": "just because"}}
    calls = [
        (ENDPOINTS, None),
        ("query ($id: ID!) { webhookEndpoint(id: $id) { id } }", {"id": endpoint_id}),
        (CREATE, {"input": {"url": HOOK, "eventTypes": ["ACCOUNT_CREATED"], "reason": "x" * 5}}),
        (UPDATE, {"input": {"id": endpoint_id, "description": "mine", "reason": "because"}}),
        *((ACTION[name], action) for name in ACTIONS),
    ]

    for token in (moderator.token, user.token):
        for document, variables in calls:
            errors = await gql.errors(document, variables, token=token)
            assert errors[0]["extensions"]["code"] == "FORBIDDEN", (document, errors)
    endpoints = (await gql.execute(ENDPOINTS, token=admin.token))["webhookEndpoints"]
    assert [e["enabled"] for e in endpoints] == [True]
    assert endpoints[0]["description"] == ""


BAD_URLS = [
    "",
    "not a url",
    "ftp://example.com/hooks",
    "http://example.com/hooks",  # plain http only to localhost
    "https://10.1.2.3/hooks",  # private
    "https://169.254.169.254/latest/meta-data",  # link-local (cloud metadata)
    "https://[fd00::1]/hooks",  # unique local IPv6
    "https://user:password@example.com/hooks",
    "https://example.com:99999/hooks",
    "https://example.com/" + "x" * 2000,
]


async def test_a_bad_url_is_refused(gql: GraphQLClient, services: Services) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")

    for url in BAD_URLS:
        variables = {"input": {"url": url, "eventTypes": ["ACCOUNT_CREATED"], "reason": "try"}}
        result = (await gql.execute(CREATE, variables, token=admin.token))["createWebhookEndpoint"]
        assert (result["code"], result["field"]) == ("INVALID_WEBHOOK_URL", "url"), url

    assert (await gql.execute(ENDPOINTS, token=admin.token))["webhookEndpoints"] == []


async def test_bad_event_types_and_descriptions_are_refused(
    gql: GraphQLClient, services: Services
) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")
    base = {"url": HOOK, "reason": "try it"}

    unknown = await gql.errors(
        CREATE, {"input": {**base, "eventTypes": ["POST_CREATED"]}}, token=admin.token
    )
    empty = (await gql.execute(CREATE, {"input": {**base, "eventTypes": []}}, token=admin.token))[
        "createWebhookEndpoint"
    ]
    long = (
        await gql.execute(
            CREATE,
            {"input": {**base, "eventTypes": ["ACCOUNT_CREATED"], "description": "d" * 501}},
            token=admin.token,
        )
    )["createWebhookEndpoint"]

    assert "POST_CREATED" in unknown[0]["message"]  # not a WebhookEventType value
    assert (empty["code"], empty["field"]) == ("INVALID_EVENT_TYPES", "eventTypes")
    assert (long["code"], long["field"]) == ("INVALID_INPUT", "description")


async def test_a_missing_reason_is_refused_and_the_refusal_audited(
    gql: GraphQLClient, services: Services
) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")
    endpoint_id = (await create_endpoint(gql, admin, HOOK))["endpoint"]["id"]
    create = {"input": {"url": HOOK, "eventTypes": ["ACCOUNT_CREATED"], "reason": "  "}}

    created = (await gql.execute(CREATE, create, token=admin.token))["createWebhookEndpoint"]
    disabled = await act(gql, admin, "disableWebhookEndpoint", endpoint_id, reason="")

    assert (created["code"], created["field"]) == ("REASON_REQUIRED", "reason")
    assert (disabled["code"], disabled["field"]) == ("REASON_REQUIRED", "reason")
    refusals = [e for e in await audit_entries(services, "webhook.") if e.outcome != "ok"]
    assert [(e.action, e.outcome) for e in refusals] == [
        ("webhook.create", "refused:REASON_REQUIRED"),
        ("webhook.disable", "refused:REASON_REQUIRED"),
    ]
    endpoints = (await gql.execute(ENDPOINTS, token=admin.token))["webhookEndpoints"]
    assert [e["enabled"] for e in endpoints] == [True]


async def test_an_unknown_or_malformed_endpoint_id_is_refused(
    gql: GraphQLClient, services: Services
) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")

    for mutation in ACTIONS:
        unknown = await act(gql, admin, mutation, UNKNOWN_ID)
        malformed = await act(gql, admin, mutation, "QWNjb3VudDox")  # an Account id

        assert (unknown["code"], unknown["field"]) == ("NOT_FOUND", "id"), mutation
        assert (malformed["code"], malformed["field"]) == ("INVALID_ID", "id"), mutation


async def test_updating_an_unknown_endpoint_is_not_found_and_reading_it_is_null(
    gql: GraphQLClient, services: Services
) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")
    variables = {"input": {"id": UNKNOWN_ID, "description": "x", "reason": "tidy up"}}

    updated = (await gql.execute(UPDATE, variables, token=admin.token))["updateWebhookEndpoint"]
    read = await gql.execute(
        "query ($id: ID!) { webhookEndpoint(id: $id) { id } }",
        {"id": UNKNOWN_ID},
        token=admin.token,
    )
    bad_url = (
        await gql.execute(
            UPDATE,
            {"input": {"id": UNKNOWN_ID, "url": "http://example.com", "reason": "tidy up"}},
            token=admin.token,
        )
    )["updateWebhookEndpoint"]

    assert updated["code"] == "NOT_FOUND"
    assert read == {"webhookEndpoint": None}
    assert bad_url["code"] == "INVALID_WEBHOOK_URL"
