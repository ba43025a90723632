"""Matrix calls for roles."""

from __future__ import annotations

from typing import Any

from tests.support.matrix import Call, MatrixEnv, target_id


async def _change_role(env: MatrixEnv) -> dict[str, Any]:
    return {"input": {"accountId": env.target.id, "role": "AUDITOR", "reason": "matrix check"}}


CHANGE_ROLE = """
mutation ($input: ChangeRoleInput!) { %s(input: $input) { __typename } }
"""

CALLS: dict[str, Call] = {
    "Account.roles": Call(
        "query ($id: ID!) { node(id: $id) { ... on Account { roles } } }",
        target_id,
        path=("node", "roles"),
    ),
    "Mutation.grantRole": Call(CHANGE_ROLE % "grantRole", _change_role, path=("grantRole",)),
    "Mutation.revokeRole": Call(CHANGE_ROLE % "revokeRole", _change_role, path=("revokeRole",)),
}
