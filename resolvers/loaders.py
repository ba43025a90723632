"""The dataloader cache layer: batched, per-operation loaders (never per connection).

Each batch opens its own short session, so no transaction stays open while a
subscription waits for its next event."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from strawberry.dataloader import DataLoader

from models.accounts.tables import Account
from models.billing import queries as billing
from models.billing.ledger import CreditNote, Invoice, InvoiceLine
from models.billing.tables import Price
from models.posts import policies
from models.posts.tables import Like, Post
from models.social.tables import Follow

K = TypeVar("K")
V = TypeVar("V")


def _loader(
    sessionmaker: async_sessionmaker[AsyncSession],
    fetch: Callable[[AsyncSession, list[int]], Awaitable[dict[int, Any]]],
    missing: Any = None,
) -> DataLoader[int, Any]:
    async def load(keys: Sequence[int]) -> list[Any]:
        async with sessionmaker() as session:
            found = await fetch(session, list(keys))
        return [found.get(key, missing) for key in keys]

    return DataLoader(load_fn=load)


class Loaders:
    """`<Things>By<Key>Loader`s for one operation and one viewer."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], viewer_id: int | None):
        self.viewer_id = viewer_id
        self.accounts_by_id: DataLoader[int, Account | None] = _loader(sessionmaker, self._accounts)
        self.visible_posts_by_id: DataLoader[int, Post | None] = _loader(sessionmaker, self._posts)
        self.liked_by_viewer: DataLoader[int, bool] = _loader(sessionmaker, self._liked, False)
        self.followed_by_viewer: DataLoader[int, bool] = _loader(
            sessionmaker, self._followed, False
        )
        self.prices_by_id: DataLoader[int, Price | None] = _loader(
            sessionmaker, billing.prices_by_id
        )
        self.lines_by_invoice: DataLoader[int, list[InvoiceLine]] = _loader(
            sessionmaker, billing.lines_of, []
        )
        self.credit_notes_by_invoice: DataLoader[int, list[CreditNote]] = _loader(
            sessionmaker, billing.credit_notes_of, []
        )
        self.latest_invoice_by_subscription: DataLoader[int, Invoice | None] = _loader(
            sessionmaker, billing.latest_invoices
        )

    def prime_posts(self, posts: Sequence[Post]) -> None:
        for post in posts:
            self.visible_posts_by_id.prime(post.id, post)

    @staticmethod
    async def _accounts(session: AsyncSession, ids: list[int]) -> dict[int, Account]:
        rows = await session.scalars(select(Account).where(Account.id.in_(ids)))
        return {row.id: row for row in rows}

    async def _posts(self, session: AsyncSession, ids: list[int]) -> dict[int, Post]:
        rows = await session.scalars(
            select(Post).where(Post.id.in_(ids), policies.visible_to(self.viewer_id))
        )
        return {row.id: row for row in rows}

    async def _liked(self, session: AsyncSession, ids: list[int]) -> dict[int, bool]:
        if self.viewer_id is None:
            return {}
        rows = await session.scalars(
            select(Like.post_id).where(Like.account_id == self.viewer_id, Like.post_id.in_(ids))
        )
        return dict.fromkeys(rows, True)

    async def _followed(self, session: AsyncSession, ids: list[int]) -> dict[int, bool]:
        if self.viewer_id is None:
            return {}
        rows = await session.scalars(
            select(Follow.followee_id).where(
                Follow.follower_id == self.viewer_id, Follow.followee_id.in_(ids)
            )
        )
        return dict.fromkeys(rows, True)
