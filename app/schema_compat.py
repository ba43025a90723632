"""The breaking-change check: the committed SDL against the last released one.

graphql-core's change finder compares the two schemas. A breaking change (a removed field, an
argument made required, ...) passes only when the `[Unreleased]` section of CHANGELOG.md has a
bullet starting `Breaking:` that names, in backticks, the schema coordinate the finder reports
(`Post.body`, `Query.post(id:)`, `@requiresRole`). A dangerous change (an enum value or union
member added, a default changed: clients with exhaustive switches may trip) passes when any
bullet of that section names its coordinate. CHANGELOG.md explains the release steps.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from graphql import (
    GraphQLSchema,
    build_schema,
    find_breaking_changes,
    find_dangerous_changes,
    resolve_schema_coordinate,
)

_NAME = r"[_A-Za-z][_0-9A-Za-z]*"
# A schema coordinate as the GraphQL spec writes them: Type, Type.field, Type.field(arg:),
# @directive, @directive(arg:).
_COORDINATE = re.compile(rf"@?{_NAME}(?:\.{_NAME})?(?:\({_NAME}:\))?")
_RELEASED = re.compile(r"v(\d+)\.(\d+)\.(\d+)\.graphql")
_UNRELEASED_HEADING = re.compile(r"^## \[?Unreleased\]?", re.IGNORECASE)
_BREAKING_BULLET = re.compile(r"^[-*] +(?:\*\*)?Breaking(?:\*\*)?:", re.IGNORECASE)


@dataclass(frozen=True)
class SchemaChange:
    """One change the finder reports, with the schema coordinate a changelog bullet must name."""

    kind: str
    description: str
    coordinate: str
    breaking: bool


@dataclass(frozen=True)
class Declarations:
    """The coordinates the unreleased changelog section names, in Breaking bullets and in any."""

    breaking: frozenset[str]
    mentioned: frozenset[str]


def find_changes(released_sdl: str, current_sdl: str) -> list[SchemaChange]:
    """Every breaking and dangerous change from the released SDL to the current one."""
    old, new = build_schema(released_sdl), build_schema(current_sdl)
    found = [
        SchemaChange(c.type.name, c.description, _subject(c.description, old, new), True)
        for c in find_breaking_changes(old, new)
    ]
    found += [
        SchemaChange(c.type.name, c.description, _subject(c.description, old, new), False)
        for c in find_dangerous_changes(old, new)
    ]
    return found


def declarations(changelog: str) -> Declarations:
    """The backticked coordinates of the `[Unreleased]` section's bullets."""
    breaking: set[str] = set()
    mentioned: set[str] = set()
    for bullet in _unreleased_bullets(changelog):
        names = set(re.findall(r"`([^`]+)`", bullet))
        mentioned |= names
        if _BREAKING_BULLET.match(bullet):
            breaking |= names
    return Declarations(frozenset(breaking), frozenset(mentioned))


def undeclared_changes(released_sdl: str, current_sdl: str, changelog: str) -> list[SchemaChange]:
    """The changes from the released SDL that the changelog's `[Unreleased]` does not declare."""
    declared = declarations(changelog)
    return [
        change
        for change in find_changes(released_sdl, current_sdl)
        if change.coordinate not in (declared.breaking if change.breaking else declared.mentioned)
    ]


def report(changes: Iterable[SchemaChange]) -> str:
    """A message that says, per undeclared change, what CHANGELOG.md must hold to declare it."""
    lines = []
    for change in changes:
        prefix = "Breaking: " if change.breaking else ""
        lines.append(
            f"{change.kind}: {change.description}\n  declare it in CHANGELOG.md under"
            f" [Unreleased] with a bullet such as: - {prefix}`{change.coordinate}` <what changed>"
        )
    return "\n".join(lines)


def latest_release(paths: Iterable[Path]) -> Path:
    """The released SDL with the highest version among files named `vX.Y.Z.graphql`."""
    versioned = [(_version(path), path) for path in paths if _RELEASED.fullmatch(path.name)]
    if not versioned:
        raise ValueError("no released schema (vX.Y.Z.graphql) found")
    return max(versioned)[1]


def released_version(path: Path) -> str:
    """The `X.Y.Z` of a released SDL file named `vX.Y.Z.graphql`."""
    return ".".join(str(part) for part in _version(path))


def _version(path: Path) -> tuple[int, int, int]:
    match = _RELEASED.fullmatch(path.name)
    if match is None:
        raise ValueError(f"{path.name} is not named vX.Y.Z.graphql")
    major, minor, patch = (int(part) for part in match.groups())
    return major, minor, patch


def _subject(description: str, old: GraphQLSchema, new: GraphQLSchema) -> str:
    """The coordinate a change is about: the first one in its description the schemas know.

    A qualified coordinate (`Type.field`, `@directive`) wins over a bare name so that the
    leading words of graphql-core's messages ("Field", "Argument") never count; a message no
    coordinate of either schema appears in must be quoted whole.
    """
    tokens: list[str] = _COORDINATE.findall(description)
    known = [token for token in tokens if _resolves(token, old) or _resolves(token, new)]
    qualified = [token for token in known if any(mark in token for mark in ".@(")]
    return (qualified or known or [description])[0]


def _resolves(coordinate: str, schema: GraphQLSchema) -> bool:
    try:
        return resolve_schema_coordinate(schema, coordinate) is not None
    except TypeError:  # the coordinate's parent type is not in this schema
        return False


def _unreleased_bullets(changelog: str) -> list[str]:
    """The bullets of the `[Unreleased]` section, each with its continuation lines joined."""
    bullets: list[str] = []
    inside = False
    for line in changelog.splitlines():
        if line.startswith("## "):
            inside = bool(_UNRELEASED_HEADING.match(line))
            continue
        if not inside:
            continue
        if re.match(r"^[-*] ", line):
            bullets.append(line)
        elif bullets and line.startswith("  ") and line.strip():
            bullets[-1] += " " + line.strip()
    return bullets
