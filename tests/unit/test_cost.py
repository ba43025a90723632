"""The static cost model (schema/core/cost.py) and the argument checks that run with it: every
list of the schema is priced, the documented examples cost what docs/api.md says, and bad
arguments anywhere in an operation are found before execution."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLObjectType,
    build_schema,
    get_named_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    parse,
)

from app.schema import build_schema as build_chirp_schema
from resolvers.paging import encode_cursor
from schema.core.checks import check_of
from schema.core.cost import (
    MUTATION_COST,
    SUBSCRIPTION_COST,
    CostModel,
    UndeclaredList,
)
from schema.core.permissions import gated_fields
from tests.support.attacks import ATTACK, ATTACK_ALIASED, ITEM_5

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = build_chirp_schema()._schema
MODEL = CostModel(SCHEMA)

HOME = """
query HomeTimeline($first: Int!, $after: String) {
  homeTimeline(first: $first, after: $after) {
    edges { cursor node { id body likeCount viewerHasLiked author { handle displayName } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


def cost(document: str, variables: dict[str, Any] | None = None) -> int:
    analysis = MODEL.analyse(parse(document), None, variables)
    assert analysis is not None
    assert analysis.errors == (), analysis.errors
    return analysis.cost


def refusals(document: str, variables: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    analysis = MODEL.analyse(parse(document), None, variables)
    assert analysis is not None
    return [dict(e.extensions or {}) for e in analysis.errors]


def _lists(schema: Any) -> list[tuple[str, str]]:
    found = []
    for name, type_ in schema.type_map.items():
        if name.startswith("__") or not isinstance(type_, GraphQLObjectType):
            continue
        for field_name, field in type_.fields.items():
            inner = field.type.of_type if is_non_null_type(field.type) else field.type
            named = get_named_type(field.type)
            if (is_list_type(inner) and not is_leaf_type(named)) or named.name in MODEL.connections:
                found.append((name, field_name))
    return found


def test_every_list_field_of_the_schema_has_a_size_rule() -> None:
    lists = _lists(SCHEMA)

    assert len(lists) > 40
    assert [f"{t}.{f}" for t, f in lists if (t, f) not in MODEL.sizes] == []


def test_a_schema_with_an_unpriced_list_is_refused() -> None:
    schema = build_schema("type Query { things: [Thing!]! } type Thing { name: String }")

    with pytest.raises(UndeclaredList, match=r"Query\.things"):
        CostModel(schema)


def test_a_list_sized_by_an_unchecked_argument_is_refused() -> None:
    schema = build_schema("type Query { things(first: Int!): [Thing!]! } type Thing { n: Int }")

    with pytest.raises(UndeclaredList, match=r"Query\.things\(first: unchecked\)"):
        CostModel(schema, list_sizes={"Query.things": "first"})


def test_every_page_size_cursor_and_id_argument_is_checked_before_execution() -> None:
    # webhookEndpoint(id:) answers null for a malformed id, by its contract.
    lenient = {"Query.webhookEndpoint(id:)"}
    unchecked = [
        f"{name}.{field_name}({arg}:)"
        for name, type_ in SCHEMA.type_map.items()
        if isinstance(type_, GraphQLObjectType) and not name.startswith("__")
        for field_name, field in type_.fields.items()
        for arg, argument in field.args.items()
        if (arg in ("first", "after", "id") or get_named_type(argument.type).name == "ID")
        and check_of(argument) is None
    ]

    assert sorted(unchecked) == sorted(lenient)


def test_the_attack_costs_a_million_and_its_aliases_three() -> None:
    one = cost(ATTACK)

    assert one == 1 + 100 * (1 + 1 + 1 + 100 * (1 + 1 + 100 * 1)) == 1_020_301
    assert cost(ATTACK_ALIASED) == 3 * one


def test_a_home_timeline_page_costs_one_plus_twenty_items_of_two() -> None:
    assert cost(HOME, {"first": 20}) == 41
    assert cost(HOME, {"first": 100}) == 201


def test_a_missing_page_size_variable_counts_as_its_default_or_the_largest_page() -> None:
    with_default = HOME.replace("$first: Int!", "$first: Int = 5")
    optional = HOME.replace("$first: Int!", "$first: Int")

    assert cost(with_default, {}) == 1 + 5 * 2
    # A required argument left null never runs; it still prices as the largest page.
    assert MODEL.analyse(parse(optional), None, {}) is not None
    assert cost(optional, {}) == 1 + 100 * 2


def test_an_argument_default_sizes_a_plain_list() -> None:
    assert cost("{ operationCosts { name } }") == 1 + 20 * 1
    assert cost("{ operationCosts(first: 3) { name } }") == 1 + 3 * 1


def test_fragments_count_where_they_are_spread() -> None:
    document = """
    query { publicFeed(first: 10) { edges { node { ...P } } } viewer { posts(first: 5) { edges { node { ...P } } } } }
    fragment P on Post { body author { handle } }
    """

    assert cost(document) == (1 + 10 * 2) + (1 + 1 + 5 * 2)


def test_a_union_costs_its_dearest_member() -> None:
    cheap = 'mutation { createPost(input: {body: "x"}) { ... on UserError { code } } }'
    dear = """mutation { createPost(input: {body: "x"}) {
      ... on PostPayload { post { author { handle } } } ... on UserError { code } } }"""

    assert cost(cheap) == MUTATION_COST
    assert cost(dear) == MUTATION_COST + 2


def test_skip_and_include_drop_what_they_exclude() -> None:
    document = """query ($full: Boolean!) {
      publicFeed(first: 20) { edges { node { body author @include(if: $full) { handle } } } }
      viewer @skip(if: $full) { handle }
    }"""

    assert cost(document, {"full": True}) == 1 + 20 * 2
    assert cost(document, {"full": False}) == 1 + 20 * 1 + 1


def test_a_subscription_is_charged_once_for_its_selection() -> None:
    document = "subscription { publicFeed { cursor post { body author { handle } } } }"

    assert cost(document) == SUBSCRIPTION_COST + 2


def test_an_operation_costs_at_least_one() -> None:
    assert cost("{ __typename }") == 1
    assert cost("{ viewerRoles }") == 1


def test_bad_arguments_in_a_mutation_payload_are_found_before_execution() -> None:
    assert refusals(ITEM_5) == [{"code": "BAD_USER_INPUT", "argument": "first"}]


@pytest.mark.parametrize(
    ("document", "variables", "argument"),
    [
        (
            "query ($n: Int!) { publicFeed(first: $n) { pageInfo { hasNextPage } } }",
            {"n": 0},
            "first",
        ),
        (
            "query ($n: Int!) { publicFeed(first: $n) { pageInfo { hasNextPage } } }",
            {"n": -5},
            "first",
        ),
        (
            "query ($c: String) { publicFeed(first: 5, after: $c) { pageInfo { hasNextPage } } }",
            {"c": "nope"},
            "after",
        ),
        (
            '{ viewer { posts(first: 5, after: "bm90IGEgY3Vyc29y") { pageInfo { hasNextPage } } } }',
            None,
            "after",
        ),
        ('{ post(id: "garbage") { body } }', None, "id"),
        ("query ($id: ID!) { node(id: $id) { id } }", {"id": "UG9zdDp4"}, "id"),
        ('{ plans { prices(currency: "XYZ") { amount { amount } } } }', None, "currency"),
        (
            "subscription ($c: String) { publicFeed(after: $c) { cursor } }",
            {"c": encode_cursor(5)},
            "after",
        ),
    ],
)
def test_a_bad_argument_literal_or_variable_is_refused(
    document: str, variables: dict[str, Any] | None, argument: str
) -> None:
    assert refusals(document, variables) == [{"code": "BAD_USER_INPUT", "argument": argument}]


def test_a_cursor_of_another_list_kind_is_refused_where_it_does_not_belong() -> None:
    event_cursor = encode_cursor(5, kind="e1:")
    document = "query ($c: String) { viewer { sessions(first: 5, after: $c) { pageInfo { hasNextPage } } } }"

    assert refusals(document, {"c": encode_cursor(5)}) == [
        {"code": "BAD_USER_INPUT", "argument": "after"}
    ]
    assert refusals(document, {"c": encode_cursor(5, kind="s1:")}) == []
    assert refusals(document, {"c": event_cursor}) != []


def test_arguments_under_an_excluded_branch_are_not_checked() -> None:
    document = "{ viewer @skip(if: true) { posts(first: 500) { pageInfo { hasNextPage } } } }"

    assert refusals(document) == []


def _documented_examples() -> list[tuple[int, dict[str, Any], str]]:
    text = (ROOT / "docs" / "api.md").read_text()
    examples = []
    for block in re.findall(r"```graphql\n(.*?)```", text, flags=re.S):
        stated = re.match(r"# cost: (\d+)", block)
        if stated is None:
            continue
        variables = re.search(r"^# variables: (.*)$", block, flags=re.M)
        examples.append(
            (int(stated.group(1)), json.loads(variables.group(1)) if variables else {}, block)
        )
    return examples


def test_docs_state_the_cost_of_every_example_as_the_server_computes_it() -> None:
    examples = _documented_examples()

    assert len(examples) >= 10
    assert [(stated, cost(block, variables)) for stated, variables, block in examples] == [
        (stated, stated) for stated, _, _ in examples
    ]


def test_gated_fields_below_the_root_are_noted_and_root_ones_are_left_to_their_gate() -> None:
    model = CostModel(SCHEMA, gated=gated_fields(SCHEMA))
    in_payload = """mutation { createPost(input: {body: "x"}) {
      ... on PostPayload { post { author { billing { plan { code } } email } } } } }"""
    at_root = 'mutation { revokeRole(input: {accountId: "x", role: ADMIN, reason: "why"}) { __typename } }'

    noted = model.analyse(parse(in_payload), None, None)
    root = model.analyse(parse(at_root), None, None)

    assert noted is not None and [c for c, _ in noted.gated] == ["Account.billing"]
    assert root is not None and root.gated == ()
