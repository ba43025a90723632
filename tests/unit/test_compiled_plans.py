"""Which documents compiled operations answer (schema/compiled.py): the reads of the public
graph, and nothing that is private, staff-only, a write, live, or shaped by directives. A
document that does not compile runs through the general executor, so these tests fix the
boundary: what reaches the fast path, and what never does."""

from __future__ import annotations

import json

import pytest
from graphql import parse, validate

from app.schema import build_schema
from schema.compiled import LivePlan, Plan, compile_operation, compile_subscription

PAGE = "edges { cursor node { id body author { handle } } } pageInfo { hasNextPage }"

COMPILED = [
    f"{{ homeTimeline(first: 20) {{ {PAGE} }} }}",
    f"query Feed($n: Int!) {{ feed: publicFeed(first: $n) {{ __typename {PAGE} }} }}",
    f'{{ account(handle: "ada") {{ handle viewerFollows posts(first: 5) {{ {PAGE} }} }} }}',
    f'{{ post(id: "UG9zdDox") {{ id thread(first: 5) {{ {PAGE} }} }} }}',
    '{ node(id: "UG9zdDox") { id ... on Post { body repostOf { body replyTo { id } } } } }',
    '{ node(id: "UG9zdDox") { ...P } } fragment P on Post { id likeCount viewerHasLiked }',
    '{ node(id: "UG9zdDox") { __typename id ... on Post { __typename id } } }',
]

NOT_COMPILED = {
    "a private field": '{ account(handle: "ada") { handle email } }',
    "a staff field": '{ account(handle: "ada") { handle sessions(first: 5) { edges { cursor } } } }',
    "a staff root field": "{ auditLog(first: 5) { edges { cursor } } }",
    "an edit history": '{ post(id: "UG9zdDox") { editHistory { body } } }',
    "followers": '{ account(handle: "ada") { followers(first: 5) { edges { cursor } } } }',
    "the viewer": "{ viewer { id handle } }",
    "two root fields": f"{{ homeTimeline(first: 2) {{ {PAGE} }} publicFeed(first: 2) {{ {PAGE} }} }}",
    "a directive": f"query ($s: Boolean!) {{ publicFeed(first: 2) @skip(if: $s) {{ {PAGE} }} }}",
    "a directive inside": "{ publicFeed(first: 2) { edges { node { id @include(if: false) } } } }",
    "a list below a list": "{ publicFeed(first: 2) { edges { node { thread(first: 2) { edges { cursor } } } } } }",
    "a mutation": 'mutation { likePost(input: {postId: "UG9zdDox"}) { __typename } }',
    "a subscription": "subscription { publicFeed { cursor } }",
    "introspection": "{ __schema { queryType { name } } }",
    "the same object twice": '{ post(id: "UG9zdDox") { author { handle } author { bio } } }',
}


def _compile(document: str) -> Plan | None:
    schema = build_schema()._schema
    parsed = parse(document)
    assert not validate(schema, parsed), document  # the general path would run it
    return compile_operation(schema, parsed, None)


@pytest.mark.parametrize("document", COMPILED)
def test_reads_of_the_public_graph_compile(document: str) -> None:
    assert _compile(document) is not None


@pytest.mark.parametrize("document", list(NOT_COMPILED.values()), ids=list(NOT_COMPILED))
def test_what_is_private_staff_only_written_live_or_directed_never_compiles(document: str) -> None:
    assert _compile(document) is None


def test_a_plan_keeps_the_selection_order_and_aliases_of_its_document() -> None:
    plan = _compile(
        '{ thePost: post(id: "UG9zdDox") { z: body id a: thread(first: 1) { pageInfo '
        "{ endCursor } } } }"
    )
    assert plan is not None and plan.root_key == "thePost"
    single = plan.singles["Post"]
    row = [7, "hello", None]  # id, body, thread_root_id: as the statement would return them
    read = single.read(signed_in=False, by_handle=False, check_session=False)
    slots = read.slots
    values = [None] * (1 + len(slots.columns))
    values[slots.id] = row[0]
    values[slots.columns["body"]] = row[1]
    values[slots.columns["thread_root_id"]] = row[2]
    shaped = single.shape(values, slots, {"pageInfo": {"endCursor": None}})
    assert list(shaped) == ["z", "id", "a"]
    assert shaped["id"] == "UG9zdDo3" and shaped["z"] == "hello"


LIVE = "cursor post { id body viewerHasLiked author { handle viewerFollows } }"
LIVE_COMPILED = [
    f"subscription {{ homeTimeline {{ {LIVE} }} }}",
    f"subscription ($a: String) {{ feed: publicFeed(after: $a) {{ __typename {LIVE} }} }}",
    "subscription { publicFeed { ...E } } fragment E on TimelineEvent { cursor post { id } }",
    "subscription { publicFeed { post { repostOf { body replyCount } replyTo { id } } } }",
]
LIVE_NOT_COMPILED = {
    "a private field": "subscription { publicFeed { post { author { email } } } }",
    "a staff field": "subscription { publicFeed { post { author { sessions(first: 1) "
    "{ edges { cursor } } } } } }",
    "another subscription": 'subscription { postUpdated(id: "UG9zdDox") { cursor } }',
    "a directive": "subscription { publicFeed { cursor @include(if: true) } }",
    "a list below": "subscription { publicFeed { post { thread(first: 2) { edges { cursor } } } } }",
    "a query": "{ publicFeed(first: 2) { edges { cursor } } }",
}


def _compile_live(document: str) -> LivePlan | None:
    schema = build_schema()._schema
    parsed = parse(document)
    assert not validate(schema, parsed), document
    return compile_subscription(parsed, None)


@pytest.mark.parametrize("document", LIVE_COMPILED)
def test_live_timelines_of_public_fields_share_their_reads(document: str) -> None:
    assert _compile_live(document) is not None


@pytest.mark.parametrize("document", list(LIVE_NOT_COMPILED.values()), ids=list(LIVE_NOT_COMPILED))
def test_live_documents_with_anything_else_run_per_subscriber(document: str) -> None:
    assert _compile_live(document) is None


def test_a_live_plan_shapes_the_next_payload_in_document_order() -> None:
    plan = _compile_live(
        "subscription { feed: publicFeed { post { id words: body } __typename at: cursor } }"
    )
    assert plan is not None
    slots = plan.read.slots
    row: list[object] = [None] * plan.read.size
    row[slots.id], row[slots.columns["body"]] = 7, "hello"
    assert json.loads(plan.text(row, "ZTE6Nw==")) == {
        "data": {
            "feed": {
                "post": {"id": "UG9zdDo3", "words": "hello"},
                "__typename": "TimelineEvent",
                "at": "ZTE6Nw==",
            }
        }
    }
    assert list(json.loads(plan.text(row, "c"))["data"]["feed"]) == ["post", "__typename", "at"]
    assert plan.shape(row, 7) == plan.text(row, "ZTE6Nw==")  # the event's seq as its cursor
