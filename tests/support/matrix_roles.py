"""Matrix calls for roles."""

from __future__ import annotations

from typing import Any

from tests.support.matrix import Call, MatrixEnv, target_id


async def _change_role(env: MatrixEnv) -> dict[str, Any]:
    return {"input": {"accountId": env.target.id, "role": "AUDITOR", "reason": "matrix check"}}


CHANGE_ROLE = """
mutation ($input: ChangeRoleInput!) { %s(input: $input) { __typename } }
"""

ISSUE_ENROLMENT_CODE = """
mutation ($input: IssueTotpEnrolmentCodeInput!) {
  issueTotpEnrolmentCode(input: $input) { __typename }
}
"""


async def _issue_code(env: MatrixEnv) -> dict[str, Any]:
    return {"input": {"accountId": env.target.id, "reason": "matrix check"}}


CALLS: dict[str, Call] = {
    "Account.roles": Call(
        "query ($id: ID!) { node(id: $id) { ... on Account { roles } } }",
        target_id,
        path=("node", "roles"),
    ),
    "Mutation.grantRole": Call(CHANGE_ROLE % "grantRole", _change_role, path=("grantRole",)),
    "Mutation.revokeRole": Call(CHANGE_ROLE % "revokeRole", _change_role, path=("revokeRole",)),
    "Mutation.issueTotpEnrolmentCode": Call(
        ISSUE_ENROLMENT_CODE, _issue_code, path=("issueTotpEnrolmentCode",)
    ),
}
