"""A plain Starlette endpoint (no GraphQL) that does what Chirp's home timeline page does.

`GET /home?viewer=<id>&first=20[&after=<cursor>]` runs the same statements as the GraphQL
query in bench/load.py, through Chirp's own code and engine settings:

1. with `Authorization: Bearer <token>`, the same session lookup as Chirp's BearerAuth
   middleware (`models.accounts.actions.authenticate`, its own session); the token's account
   must be `viewer`. Without the header the `viewer` parameter is trusted;
2. the home page (`models.timeline.queries.home_page`, built on `home_statement`), in its
   own session as the resolver does;
3. the author batch and the liked batch, with the dataloaders' own fetch functions
   (declared in `models/*/registry.py`, run by `resolvers.loaders.Loaders`), each in its
   own session and concurrently, as the two DataLoaders dispatch in the same tick;

and encodes the same JSON document as the GraphQL response with `json.dumps`, so comparing
the two isolates the GraphQL layer (parsing/validation caches, execution, extensions,
middleware, per-field resolvers).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/chirp_bench \
        .venv/bin/python bench/plain.py --port 8001
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import create_async_engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry.relay.utils import to_base64

# Import this checkout's packages even where the editable install is missing or stale.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import db
from app.middleware import bearer_token
from app.settings import Settings
from models.accounts import actions as accounts
from models.accounts.registry import accounts_by_id
from models.posts.registry import liked_by_viewer
from models.posts.tables import Post
from models.timeline import queries
from resolvers.paging import MAX_PAGE, decode_cursor, encode_cursor


def _error(status: int, message: str) -> Response:
    body = json.dumps({"errors": [{"message": message}]})
    return Response(body, status_code=status, media_type="application/json")


def create_app(settings: Settings, *, lean: bool = False) -> Starlette:
    engine = db.create_engine(settings)
    if lean:
        # Not what Chirp does: an experiment to price the BEGIN/ROLLBACK around every read
        # (see docs/benchmarks.md). Otherwise Chirp's pool settings (app/db.py).
        engine = create_async_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size // 4,
            pool_pre_ping=False,
            pool_recycle=1800,
            isolation_level="AUTOCOMMIT",
        )
    sessionmaker = db.create_sessionmaker(engine)

    async def home(request: Request) -> Response:
        try:
            viewer_id = int(request.query_params["viewer"])
            first = int(request.query_params.get("first", "20"))
            before = decode_cursor(request.query_params.get("after"))
        except (KeyError, ValueError, TypeError):
            return _error(400, "viewer, first and after must be valid")
        if not 1 <= first <= MAX_PAGE:
            return _error(400, f"`first` must be between 1 and {MAX_PAGE}.")
        token = bearer_token(request.headers.get("authorization"))
        if token is not None:
            auth = None
            if token:
                async with sessionmaker() as session:
                    auth = await accounts.authenticate(session, token=token)
            if auth is None or auth.account.id != viewer_id:
                return _error(401, "The session token is unknown, expired or revoked.")
        async with sessionmaker() as session:
            page = await queries.home_page(session, viewer_id=viewer_id, first=first, before=before)
        posts = [post for _, post in page.items]
        authors, liked = await asyncio.gather(
            _batch(
                sessionmaker,
                accounts_by_id,
                list(dict.fromkeys(p.author_id for p in posts)),
                viewer_id,
            ),
            _batch(sessionmaker, liked_by_viewer, [p.id for p in posts], viewer_id),
        )
        cursors = [encode_cursor(key) for key, _ in page.items]
        edges = [
            {"cursor": cursor, "node": _node(post, authors, liked)}
            for cursor, post in zip(cursors, posts, strict=True)
        ]
        document = {
            "data": {
                "homeTimeline": {
                    "edges": edges,
                    "pageInfo": {
                        "hasNextPage": page.has_next,
                        "endCursor": cursors[-1] if cursors else None,
                    },
                }
            }
        }
        return Response(json.dumps(document), media_type="application/json")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await db.check_migrated(engine)
        yield
        await engine.dispose()

    return Starlette(routes=[Route("/home", home)], lifespan=lifespan)


async def _batch(
    sessionmaker: Any, fetch: Any, keys: list[int], viewer_id: int | None
) -> dict[int, Any]:
    # As resolvers.loaders._loader: one short session per batch (DataLoader skips empty batches).
    if not keys:
        return {}
    async with sessionmaker() as session:
        found: dict[int, Any] = await fetch(session, keys, viewer_id)
    return found


def _node(post: Post, authors: dict[int, Any], liked: dict[int, bool]) -> dict[str, Any]:
    author = authors[post.author_id]
    return {
        "id": to_base64("Post", post.id),
        "body": post.body,
        "createdAt": post.created_at.isoformat(),
        "likeCount": post.like_count,
        "replyCount": post.reply_count,
        "repostCount": post.repost_count,
        "viewerHasLiked": liked.get(post.id, False),
        "author": {"handle": author.handle, "displayName": author.display_name},
    }


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="The plain (no GraphQL) home endpoint.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument(
        "--lean",
        action="store_true",
        help="experiment: autocommit reads (not Chirp's engine settings)",
    )
    args = parser.parse_args()
    # The same HTTP-relevant uvicorn options as `chirp serve` (app/cli.py), access log included.
    uvicorn.run(
        create_app(Settings.from_env(), lean=args.lean),
        host=args.host,
        port=args.port,
        proxy_headers=True,
        timeout_graceful_shutdown=20,
        log_level="info",
    )


if __name__ == "__main__":
    main()
