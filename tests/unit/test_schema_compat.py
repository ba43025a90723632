"""The committed schema breaks no client of the last release unless CHANGELOG.md declares it.

`test_committed_schema_graphql_is_up_to_date` (test_schema.py) proves schema.graphql is what
the code builds, so comparing the committed file here compares the code.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.schema_compat import (
    declarations,
    find_changes,
    latest_release,
    released_version,
    report,
    undeclared_changes,
)

ROOT = Path(__file__).resolve().parents[2]
RELEASED = ROOT / "schema" / "released"
CHANGELOG = ROOT / "CHANGELOG.md"

RELEASED_SDL = '''
directive @requiresRole(roles: [Role!]!) on FIELD_DEFINITION

"""A staff role."""
enum Role {
  ADMIN
  SUPPORT
}

"""Something posted."""
type Post {
  id: ID!
  body: String!
  edited: Boolean @requiresRole(roles: [ADMIN])
}

"""Someone."""
type Account {
  handle: String!
}

"""Something posted, or an account."""
union SearchHit = Post | Account

"""Entry points."""
type Query {
  post(id: ID!): Post
  posts(first: Int, after: String): [Post!]!
  search(text: String!): [SearchHit!]!
}
'''


def _changelog(*unreleased: str, released: str = "") -> str:
    bullets = "\n".join(unreleased)
    return (
        "# Changelog\n\n## [Unreleased]\n\n### Changed\n\n"
        f"{bullets}\n\n## [0.1.0] - 2026-12-06\n\n{released}\n"
    )


def test_the_committed_schema_has_no_undeclared_change_since_the_last_release() -> None:
    released = latest_release(RELEASED.iterdir())

    undeclared = undeclared_changes(
        released.read_text(), (ROOT / "schema.graphql").read_text(), CHANGELOG.read_text()
    )

    assert undeclared == [], f"against {released.name}:\n{report(undeclared)}"


def test_the_released_folder_holds_only_versioned_sdl_files_each_with_a_changelog_section() -> None:
    files = sorted(RELEASED.iterdir())
    sections = set(
        re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", CHANGELOG.read_text(), re.M)
    )

    assert files
    assert [f.name for f in files if not re.fullmatch(r"v\d+\.\d+\.\d+\.graphql", f.name)] == []
    assert {released_version(f) for f in files} <= sections


def test_a_removed_field_is_reported_as_an_undeclared_breaking_change() -> None:
    current = RELEASED_SDL.replace("  body: String!\n", "")

    undeclared = undeclared_changes(RELEASED_SDL, current, _changelog())

    assert [(c.kind, c.coordinate, c.breaking) for c in undeclared] == [
        ("FIELD_REMOVED", "Post.body", True)
    ]
    assert "- Breaking: `Post.body`" in report(undeclared)


def test_a_nullable_argument_made_required_is_reported_as_an_undeclared_breaking_change() -> None:
    current = RELEASED_SDL.replace("posts(first: Int,", "posts(first: Int!,")

    undeclared = undeclared_changes(RELEASED_SDL, current, _changelog())

    assert [(c.kind, c.coordinate) for c in undeclared] == [
        ("ARG_CHANGED_KIND", "Query.posts(first:)")
    ]


def test_a_breaking_change_declared_under_unreleased_passes() -> None:
    current = RELEASED_SDL.replace("  body: String!\n", "").replace(
        "posts(first: Int,", "posts(first: Int!,"
    )
    changelog = _changelog(
        "- Breaking: `Post.body` removed; read `Post.text` instead.",
        "- **Breaking**: `Query.posts(first:)` is required",
        "  (it was optional and defaulted to 20).",
    )

    assert len(find_changes(RELEASED_SDL, current)) == 2
    assert undeclared_changes(RELEASED_SDL, current, changelog) == []


def test_a_breaking_change_named_without_the_breaking_prefix_is_not_declared() -> None:
    current = RELEASED_SDL.replace("  body: String!\n", "")

    undeclared = undeclared_changes(RELEASED_SDL, current, _changelog("- `Post.body` removed."))

    assert [c.coordinate for c in undeclared] == ["Post.body"]


def test_a_breaking_bullet_of_a_released_version_declares_nothing_new() -> None:
    current = RELEASED_SDL.replace("  body: String!\n", "")
    changelog = _changelog(released="- Breaking: `Post.body` removed.")

    assert declarations(changelog).breaking == frozenset()
    assert [c.coordinate for c in undeclared_changes(RELEASED_SDL, current, changelog)] == [
        "Post.body"
    ]


def test_the_declaration_must_name_the_reported_coordinate_not_a_neighbour() -> None:
    current = RELEASED_SDL.replace("posts(first: Int,", "posts(first: Int!,")
    changelog = _changelog("- Breaking: `Query.posts` now needs `first`.")

    assert [c.coordinate for c in undeclared_changes(RELEASED_SDL, current, changelog)] == [
        "Query.posts(first:)"
    ]


@pytest.mark.parametrize(
    ("edits", "kind", "coordinate"),
    [
        ((("  SUPPORT\n", ""),), "VALUE_REMOVED_FROM_ENUM", "Role.SUPPORT"),
        (
            (("post(id: ID!)", "post(id: ID!, at: String!)"),),
            "REQUIRED_ARG_ADDED",
            "Query.post(at:)",
        ),
        ((("= Post | Account", "= Post"),), "TYPE_REMOVED_FROM_UNION", "Account"),
        (
            (("type Account {", "input Account {"), ("| Account", "")),
            "TYPE_CHANGED_KIND",
            "Account",
        ),
        (
            (
                ("directive @requiresRole(roles: [Role!]!) on FIELD_DEFINITION\n", ""),
                (" @requiresRole(roles: [ADMIN])", ""),
            ),
            "DIRECTIVE_REMOVED",
            "@requiresRole",
        ),
    ],
)
def test_each_kind_of_breaking_change_names_its_coordinate(
    edits: tuple[tuple[str, str], ...], kind: str, coordinate: str
) -> None:
    current = RELEASED_SDL
    for old, new in edits:
        current = current.replace(old, new)

    changes = [(c.kind, c.coordinate) for c in find_changes(RELEASED_SDL, current) if c.breaking]

    assert (kind, coordinate) in changes


def test_an_argument_made_required_in_the_real_schema_fails_the_check() -> None:
    released = latest_release(RELEASED.iterdir()).read_text()
    current = released.replace("after: String = null", "after: String!", 1)

    undeclared = undeclared_changes(released, current, CHANGELOG.read_text())

    assert [(c.kind, c.breaking) for c in undeclared] == [("ARG_CHANGED_KIND", True)]
    assert undeclared[0].coordinate.endswith("(after:)")


def test_a_dangerous_change_passes_once_any_unreleased_bullet_names_it() -> None:
    current = RELEASED_SDL.replace("  SUPPORT\n", "  SUPPORT\n  AUDITOR\n")

    undeclared = undeclared_changes(RELEASED_SDL, current, _changelog())
    declared = _changelog("- Added the `Role.AUDITOR` staff role.")

    assert [(c.kind, c.coordinate, c.breaking) for c in undeclared] == [
        ("VALUE_ADDED_TO_ENUM", "Role.AUDITOR", False)
    ]
    assert undeclared_changes(RELEASED_SDL, current, declared) == []


def test_an_identical_schema_and_an_added_field_need_no_declaration() -> None:
    added = RELEASED_SDL.replace("  body: String!\n", "  body: String!\n  title: String\n")

    assert find_changes(RELEASED_SDL, RELEASED_SDL) == []
    assert find_changes(RELEASED_SDL, added) == []


def test_the_latest_release_is_the_highest_version_not_the_last_name() -> None:
    paths = [Path("v0.9.0.graphql"), Path("v0.10.0.graphql"), Path("notes.txt")]

    assert latest_release(paths) == Path("v0.10.0.graphql")
    assert released_version(Path("v0.10.0.graphql")) == "0.10.0"
    with pytest.raises(ValueError, match="no released schema"):
        latest_release([Path("notes.txt")])
