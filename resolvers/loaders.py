"""The dataloader cache layer: batched, per-operation loaders (never per connection).

Each domain declares its loaders (`models/<domain>/registry.py`); an operation's `Loaders`
makes each DataLoader on first use, so an operation pays only for the loaders it reads.
Each batch opens its own short session, so no transaction stays open while a subscription
waits for its next event."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader

from models.domains import DOMAINS
from models.posts.tables import Post
from models.registry import Loader


def _declared() -> dict[str, Loader]:
    found: dict[str, Loader] = {}
    for domain in DOMAINS:
        for name, loader in domain.loaders.items():
            assert name not in found, f"loader {name} is declared twice"
            found[name] = loader
    return found


LOADERS = _declared()


def _loader(
    sessionmaker: async_sessionmaker[AsyncSession], declared: Loader, viewer_id: int | None
) -> DataLoader[Any, Any]:
    fetch, missing = declared.fetch, declared.missing

    async def load(keys: Sequence[Any]) -> list[Any]:
        async with sessionmaker() as session:
            found = await fetch(session, list(keys), viewer_id)
        return [found.get(key, missing) for key in keys]

    return DataLoader(load_fn=load)


class Loaders:
    """`<Things>By<Key>Loader`s for one operation and one viewer, by their declared names
    (`accounts_by_id`, `visible_posts_by_id`, ...)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], viewer_id: int | None):
        self._sessionmaker = sessionmaker
        self.viewer_id = viewer_id

    def __getattr__(self, name: str) -> DataLoader[Any, Any]:
        # Only called for a name not yet set: the loader is made once, then found directly.
        declared = LOADERS.get(name)
        if declared is None:
            raise AttributeError(name)
        loader = _loader(self._sessionmaker, declared, self.viewer_id)
        setattr(self, name, loader)
        return loader

    def prime_posts(self, posts: Sequence[Post]) -> None:
        """Seed the visible-posts loader with posts already read (a timeline page)."""
        for post in posts:
            self.visible_posts_by_id.prime(post.id, post)
