"""Where a page of any connection ends: one `PageInfo` type and one way to build it. It
imports nothing from `schema.types`, so staff modules that `schema.types` itself imports
can use it directly."""

from __future__ import annotations

import strawberry


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
