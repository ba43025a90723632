"""The schema is composed from whatever domain packages declare a surface: the published ones
in their order, a new one after them, and none lost."""

from __future__ import annotations

from pathlib import Path

import pytest
import strawberry

from app.schema import PUBLISHED, SURFACES, discover, ordered
from schema.core.surface import Surface

ROOT = Path(__file__).resolve().parents[2]


@strawberry.type
class BookmarkMutations:
    @strawberry.mutation(description="A new domain's mutation.")
    def bookmark(self) -> bool:
        return True


def test_every_domain_package_with_a_surface_is_in_the_schema() -> None:
    declaring = [
        init.parent
        for layer in ("schema", "admin")
        for init in sorted((ROOT / layer).glob("*/__init__.py"))
        if "SURFACE = Surface(" in init.read_text()
    ]

    assert len(declaring) >= len(PUBLISHED)
    assert len(SURFACES) == len(declaring)
    assert discover() == SURFACES


def test_a_new_surface_comes_after_the_published_ones() -> None:
    published = dict(zip(PUBLISHED, SURFACES[: len(PUBLISHED)], strict=True))
    new = Surface(mutations=(BookmarkMutations,))
    later = Surface()

    found = {"schema.zebras": later, **published, "schema.bookmarks": new}

    assert ordered(found) == (*published.values(), new, later)


def test_a_published_surface_that_went_missing_stops_the_start() -> None:
    published = dict(zip(PUBLISHED, SURFACES[: len(PUBLISHED)], strict=True))
    del published["admin.audit"]

    with pytest.raises(RuntimeError, match=r"admin\.audit"):
        ordered(published)
