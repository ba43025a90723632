"""Matrix calls for support tools, the audit log's staff surface and statistics."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.accounts import sign_up
from tests.support.matrix import Call, MatrixEnv, target_id

ACCOUNT_FIELD = "query ($id: ID!) { node(id: $id) { ... on Account { %s } } }"
SESSIONS_OF = """
query ($id: ID!) { node(id: $id) { ... on Account { sessions(first: 1) { edges { node { id } } } } } }
"""


# Ending sessions acts on a fresh account each time: the shared target must stay logged in
# for the calls that come after.
async def _fresh_session(env: MatrixEnv) -> dict[str, Any]:
    fresh = await sign_up(env.gql, f"mx_{uuid.uuid4().hex[:10]}")
    data = await env.gql.execute(SESSIONS_OF, {"id": fresh.id}, token=env.admin.token)
    session_id = data["node"]["sessions"]["edges"][0]["node"]["id"]
    return {"input": {"sessionId": session_id, "reason": "matrix check"}}


async def _fresh_account(env: MatrixEnv) -> dict[str, Any]:
    fresh = await sign_up(env.gql, f"mx_{uuid.uuid4().hex[:10]}")
    return {"input": {"accountId": fresh.id, "reason": "matrix check"}}


async def _export(env: MatrixEnv) -> dict[str, Any]:
    return {"input": {"format": "JSON_LINES", "reason": "matrix check", "limit": 1}}


CALLS: dict[str, Call] = {
    "Account.sessions": Call(
        ACCOUNT_FIELD % "sessions(first: 1) { edges { cursor } }",
        target_id,
        path=("node", "sessions"),
    ),
    "Account.loginHistory": Call(
        ACCOUNT_FIELD % "loginHistory(first: 1) { edges { cursor } }",
        target_id,
        path=("node", "loginHistory"),
    ),
    "Account.twoFactorEnabled": Call(
        ACCOUNT_FIELD % "twoFactorEnabled", target_id, path=("node", "twoFactorEnabled")
    ),
    "Query.accountSearch": Call(
        'query { accountSearch(first: 1, filter: {handlePrefix: "matrix"}) { edges { cursor } } }',
        path=("accountSearch",),
    ),
    "Mutation.endSession": Call(
        "mutation ($input: EndSessionInput!) { endSession(input: $input) { __typename } }",
        _fresh_session,
        path=("endSession",),
    ),
    "Mutation.endAllSessions": Call(
        "mutation ($input: EndAllSessionsInput!) { endAllSessions(input: $input) { __typename } }",
        _fresh_account,
        path=("endAllSessions",),
    ),
    "Query.auditLog": Call("query { auditLog(first: 1) { edges { cursor } } }", path=("auditLog",)),
    "Mutation.exportAuditLog": Call(
        "mutation ($input: ExportAuditLogInput!) { exportAuditLog(input: $input) { __typename } }",
        _export,
        path=("exportAuditLog",),
    ),
    "Query.platformStatistics": Call(
        'query { platformStatistics(firstDay: "2026-01-01", lastDay: "2026-01-02") { day } }',
        path=("platformStatistics",),
    ),
}
