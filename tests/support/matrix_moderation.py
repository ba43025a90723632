"""Matrix calls for moderation. Each arrangement acts on fresh posts or accounts, so that a
call by one persona never changes what the next one meets.

`Strike.staffReason` is reached through `Account.strikes`, which only the owner and staff
see, so its document also asks for `Account.moderationStatus` (the same roles), its stand-in:
a persona without them is refused there. test_moderation proves an owner is refused `staffReason`."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.accounts import post, sign_up
from tests.support.matrix import Arrange, Call, MatrixEnv, no_variables, target_id
from tests.support.moderation import APPEAL, act, case_id_of, hidden_post_strike, report_post


async def _case(env: MatrixEnv) -> dict[str, Any]:
    post_id = await post(env.gql, env.target, "reported for the matrix")
    result = await report_post(env.gql, env.admin, post_id)
    assert result["__typename"] == "ReportPayload", result
    return {"input": {"caseId": await case_id_of(env.services, post_id), "reason": "matrix"}}


async def _note(env: MatrixEnv) -> dict[str, Any]:
    variables = await _case(env)
    return {"input": {"caseId": variables["input"]["caseId"], "body": "matrix note"}}


async def _assign(env: MatrixEnv) -> dict[str, Any]:
    variables = await _case(env)
    return {"input": {"caseId": variables["input"]["caseId"], "reason": "matrix check"}}


async def _priority(env: MatrixEnv) -> dict[str, Any]:
    variables = await _case(env)
    return {
        "input": {"caseId": variables["input"]["caseId"], "priority": "HIGH", "reason": "matrix"}
    }


async def _case_query(env: MatrixEnv) -> dict[str, Any]:
    variables = await _case(env)
    return {"id": variables["input"]["caseId"]}


async def _post(env: MatrixEnv) -> dict[str, Any]:
    post_id = await post(env.gql, env.target, "to be acted on")
    return {"input": {"postId": post_id, "reason": "matrix check"}}


async def _fresh_account(env: MatrixEnv) -> dict[str, Any]:
    fresh = await sign_up(env.gql, f"mx_{uuid.uuid4().hex[:10]}")
    return {"input": {"accountId": fresh.id, "reason": "matrix check"}}


async def _strike(env: MatrixEnv) -> dict[str, Any]:
    _, strike_id = await hidden_post_strike(env.gql, env.admin, env.target)
    return {"input": {"strikeId": strike_id, "reason": "matrix check"}}


async def _appealed(env: MatrixEnv) -> dict[str, Any]:
    variables = await _strike(env)
    strike_id = variables["input"]["strikeId"]
    appealed = await act(env.gql, APPEAL, env.target, strikeId=strike_id, note="not fair")
    assert appealed["__typename"] == "StrikePayload", appealed
    return {"input": {"strikeId": strike_id, "decision": "UPHOLD", "reason": "matrix check"}}


async def _target_with_strike(env: MatrixEnv) -> dict[str, Any]:
    await hidden_post_strike(env.gql, env.admin, env.target)
    return await target_id(env)


def mutation(input_type: str, field: str, arrange: Arrange) -> Call:
    document = f"mutation ($input: {input_type}!) {{ {field}(input: $input) {{ __typename }} }}"
    return Call(document, arrange, path=(field,))


CALLS: dict[str, Call] = {
    "Account.moderationStatus": Call(
        "query ($id: ID!) { node(id: $id) { ... on Account { moderationStatus { suspended } } } }",
        target_id,
        path=("node", "moderationStatus"),
    ),
    "Strike.staffReason": Call(
        "query ($id: ID!) { node(id: $id) { ... on Account { moderationStatus { limited } "
        "strikes(first: 5) { edges { node { staffReason } } } } } }",
        _target_with_strike,
        path=("node", "strikes", "edges", "node", "staffReason"),
        stand_in=("node", "moderationStatus"),
    ),
    "Query.moderationQueue": Call(
        "{ moderationQueue(first: 5) { edges { node { id } } } }",
        no_variables,
        path=("moderationQueue",),
    ),
    "Query.moderationCase": Call(
        "query ($id: ID!) { moderationCase(id: $id) { id reportCount } }",
        _case_query,
        path=("moderationCase",),
    ),
    "Query.moderationAppeals": Call(
        "{ moderationAppeals(first: 5) { edges { node { id } } } }",
        no_variables,
        path=("moderationAppeals",),
    ),
    "Mutation.assignModerationCase": mutation(
        "AssignModerationCaseInput", "assignModerationCase", _assign
    ),
    "Mutation.addModerationNote": mutation("AddModerationNoteInput", "addModerationNote", _note),
    "Mutation.setModerationPriority": mutation(
        "SetModerationPriorityInput", "setModerationPriority", _priority
    ),
    "Mutation.dismissModerationCase": mutation(
        "DismissModerationCaseInput", "dismissModerationCase", _case
    ),
    "Mutation.hidePost": mutation("ModeratePostInput", "hidePost", _post),
    "Mutation.markPostSensitive": mutation("ModeratePostInput", "markPostSensitive", _post),
    "Mutation.limitAccount": mutation("LimitAccountInput", "limitAccount", _fresh_account),
    "Mutation.suspendAccount": mutation("SuspendAccountInput", "suspendAccount", _fresh_account),
    "Mutation.liftModerationAction": mutation(
        "LiftModerationActionInput", "liftModerationAction", _strike
    ),
    "Mutation.decideAppeal": mutation("DecideAppealInput", "decideAppeal", _appealed),
}
