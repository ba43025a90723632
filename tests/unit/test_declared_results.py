"""The two mechanisms every domain's GraphQL surface is built with: a mutation's domain errors
become the members of its result union (and only those), and a list declared with `page_of`
gets its connection and edge types with their names and texts."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
import strawberry
from strawberry.printer import print_schema

from app.schema import build_schema
from models.errors import DomainError, InvalidInput, NotFound
from models.pages import Page
from schema.core.errors import NotFoundError, ValidationError
from schema.core.paging import Connection, page_of
from schema.core.results import DeclaredResult, mutation, outcome


@strawberry.type(description="A thing.")
class Thing:
    name: str = strawberry.field(description="Its name.")


@page_of("thing", "A page of things.", "The things on this page.")
class ThingConnection(Connection[Thing]):
    pass


@strawberry.type(description="Done.")
class Done:
    ok: bool = strawberry.field(description="Always true.")


DoResult = Annotated[Done | ValidationError, outcome("doIt")]
RAISED: list[DomainError | None] = [None]


@strawberry.type
class Query:
    @strawberry.field(description="Two things.")
    def things(self) -> ThingConnection:
        page = Page(items=[(1, "a"), (2, "b")], has_next=True)
        return ThingConnection.from_page(page, lambda name: Thing(name=name))


@strawberry.type
class Mutation:
    @mutation(description="Do it, or fail as told.")
    async def do_it(self) -> DoResult:
        error = RAISED[0]
        if error is not None:
            raise error
        return Done(ok=True)


SCHEMA = strawberry.Schema(query=Query, mutation=Mutation, types=[NotFoundError])
DO_IT = "mutation { doIt { __typename ... on UserError { code field message } } }"


async def run(error: DomainError | None) -> dict[str, Any]:
    RAISED[0] = error
    result = await SCHEMA.execute(DO_IT)
    return {"data": result.data, "errors": [e.message for e in result.errors or []]}


async def test_a_declared_error_is_the_union_member_that_stands_for_it() -> None:
    answer = await run(InvalidInput("Too long.", code="POST_TOO_LONG", field="body"))

    assert answer == {
        "data": {
            "doIt": {
                "__typename": "ValidationError",
                "code": "POST_TOO_LONG",
                "field": "body",
                "message": "Too long.",
            }
        },
        "errors": [],
    }


async def test_an_undeclared_error_is_not_turned_into_a_result() -> None:
    answer = await run(NotFound("No such thing."))

    assert answer["data"] is None
    assert answer["errors"] == ["No such thing."]


async def test_success_passes_through() -> None:
    assert await run(None) == {"data": {"doIt": {"__typename": "Done"}}, "errors": []}


def test_a_mutation_without_a_result_union_is_refused() -> None:
    @strawberry.type
    class Bad:
        @mutation(description="Returns no union.")
        async def do_it(self) -> Done:
            return Done(ok=True)

    with pytest.raises(TypeError, match="result union"):
        strawberry.Schema(query=Query, mutation=Bad)


def test_a_declared_list_keeps_its_names_and_texts() -> None:
    sdl = print_schema(SCHEMA)

    assert '"""A page of things."""\ntype ThingConnection {' in sdl
    assert '"""The things on this page."""\n  edges: [ThingEdge!]!' in sdl
    assert '"""A thing in a list, with the cursor that points at it."""\ntype ThingEdge {' in sdl
    assert '"""The thing."""\n  node: Thing!' in sdl
    assert '"""The outcome of `doIt`: its payload or a UserError."""\nunion DoItResult' in sdl


async def test_a_page_becomes_edges_with_cursors() -> None:
    result = await SCHEMA.execute(
        "{ things { edges { cursor node { name } } pageInfo { hasNextPage endCursor } } }"
    )

    assert result.errors is None
    assert result.data is not None
    edges = result.data["things"]["edges"]
    assert [e["node"]["name"] for e in edges] == ["a", "b"]
    assert result.data["things"]["pageInfo"] == {
        "hasNextPage": True,
        "endCursor": edges[1]["cursor"],
    }


def test_every_mutation_maps_only_what_its_resolver_raises() -> None:
    # Strawberry runs a field's last extension outermost: the mapping must come first, so a
    # failure of a permission check is never turned into a result.
    mutations = build_schema().schema_converter.type_map["Mutation"].definition.fields
    declared = [f for f in mutations if any(isinstance(e, DeclaredResult) for e in f.extensions)]

    assert len(declared) >= 50
    assert all(isinstance(f.extensions[0], DeclaredResult) for f in declared)
