"""Every list of the graph is a `Connection[T]` of `Edge[T]`s with one `PageInfo`, paged by
the one `First`/`After` pair. A list declares its GraphQL names and texts with `page_of`, which
keeps the SDL names (`PostConnection`, `PostEdge`) and each list's own descriptions."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Annotated, Any, Generic, Self, TypeVar

import strawberry

from models.pages import Page
from resolvers.paging import MAX_PAGE, encode_cursor
from schema.core.checks import checked, list_cursor, page_size

NodeT = TypeVar("NodeT")
ItemT = TypeVar("ItemT")
C = TypeVar("C", bound="Connection[Any]")

First = Annotated[
    int,
    strawberry.argument(
        description=f"How many items to return: 1 to {MAX_PAGE}.", metadata=checked(page_size)
    ),
]
AFTER = "Return items after this cursor (an edge's `cursor`)."
After = Annotated[str | None, strawberry.argument(description=AFTER, metadata=checked(list_cursor))]


@strawberry.type(description="Where a page ends and whether more follow.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="True when another page follows.")
    has_previous_page: bool = strawberry.field(
        description="Always false: lists page forward only, newest first."
    )
    start_cursor: str | None = strawberry.field(description="The first edge's cursor.")
    end_cursor: str | None = strawberry.field(
        description="The last edge's cursor; pass it as `after` for the next page."
    )


def page_info(cursors: list[str], has_next: bool) -> PageInfo:
    """The page info of a page whose edges have `cursors`, in order."""
    return PageInfo(
        has_next_page=has_next,
        has_previous_page=False,
        start_cursor=cursors[0] if cursors else None,
        end_cursor=cursors[-1] if cursors else None,
    )


@strawberry.type
class Edge(Generic[NodeT]):
    cursor: str = strawberry.field(description="Opaque; pass as `after` to continue from here.")
    node: NodeT


@strawberry.type
class Connection(Generic[NodeT]):
    edges: list[Edge[NodeT]]
    page_info: PageInfo = strawberry.field(description="Where this page ends.")

    @classmethod
    def from_page(
        cls,
        page: Page[ItemT],
        node: Callable[[ItemT], NodeT],
        cursor: Callable[[int], str] = encode_cursor,
    ) -> Self:
        """A page of domain items as edges: `node` makes each item's node, `cursor` its
        opaque cursor from the item's key."""
        edge_type: type[Edge[NodeT]] = getattr(cls, "__edge__", Edge)
        edges = [edge_type(cursor=cursor(key), node=node(item)) for key, item in page.items]
        return cls(edges=edges, page_info=page_info([e.cursor for e in edges], page.has_next))


def page_of(
    item: str, description: str, edges: str, *, where: str = "in a list"
) -> Callable[[type[C]], type[C]]:
    """Declare `class <Name>Connection(Connection[Node])` as a GraphQL type, with its
    `<Name>Edge`: `item` names one node in the texts ("post" -> "A post in a list, with the
    cursor that points at it." and "The post.")."""

    def declare(cls: type[C]) -> type[C]:
        node_type = getattr(cls, "__orig_bases__")[0].__args__[0]  # noqa: B009
        article = "An" if item[0] in "aeiou" else "A"
        body = {
            "__annotations__": {"node": node_type},
            "node": strawberry.field(description=f"The {item.split()[-1]}."),
        }
        edge = strawberry.type(
            types.new_class(
                cls.__name__.removesuffix("Connection") + "Edge",
                (Edge[node_type],),  # type: ignore[valid-type]
                exec_body=lambda namespace: namespace.update(body),
            ),
            description=f"{article} {item} {where}, with the cursor that points at it.",
        )
        cls.__annotations__ = {"edges": list[edge]}  # type: ignore[valid-type]
        cls.edges = strawberry.field(description=edges)  # type: ignore[assignment]
        cls.__edge__ = edge  # type: ignore[attr-defined]
        return strawberry.type(cls, description=description)

    return declare


# The moderation lists' own argument texts, kept as schema.graphql has them.
FirstItems = Annotated[
    int,
    strawberry.argument(
        description=f"How many items: 1 to {MAX_PAGE}.", metadata=checked(page_size)
    ),
]
AfterEdge = Annotated[
    str | None,
    strawberry.argument(
        description="Continue after this edge's cursor.", metadata=checked(list_cursor)
    ),
]
