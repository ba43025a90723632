"""One page of a keyset-paged list, whatever the domain: the items with their cursor keys,
and whether more follow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[tuple[int, T]]  # (cursor key, item)
    has_next: bool
