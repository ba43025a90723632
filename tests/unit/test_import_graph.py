"""No import circles anywhere in Chirp, counting function-level and `TYPE_CHECKING` imports
(grimp, the graph import-linter builds, sees both), and no deferred imports outside the one
composition module: `strawberry.lazy` and `importlib.import_module` would hide a circle."""

from __future__ import annotations

import re
from pathlib import Path

import grimp
import pytest

PACKAGES = ("app", "schema", "resolvers", "models", "subscriptions", "admin", "telemetry")
ROOT = Path(__file__).resolve().parents[2]
COMPOSITION = ROOT / "app" / "schema.py"
DEFERRED = re.compile(r"strawberry\.lazy\(|\blazy\(|import_module\(|__import__\(")


def circles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every strongly connected set of two or more modules (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            module, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    imported = sorted(graph.find_modules_directly_imported_by(target))
                    work.append((target, iter(imported)))
                elif target in on_stack:
                    low[module] = min(low[module], index[target])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[module])
            if low[module] == index[module]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == module:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES, exclude_type_checking_imports=False)


def test_no_module_imports_itself_through_others(graph: grimp.ImportGraph) -> None:
    assert circles(graph) == []


def test_the_circle_finder_finds_a_circle(graph: grimp.ImportGraph) -> None:
    graph.add_import(importer="models.base", imported="app.main")
    try:
        assert any({"models.base", "app.main"} <= set(c) for c in circles(graph))
    finally:
        graph.remove_import(importer="models.base", imported="app.main")


def test_imports_are_deferred_only_in_the_composition_module() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if path != COMPOSITION and DEFERRED.search(path.read_text())
    ]
    assert offenders == []
