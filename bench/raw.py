"""The raw reference of bench/compare.py: Chirp's timeline pages and post lookups without
GraphQL, without an ORM, in one SQL statement per request.

Each route, with `Authorization: Bearer <token>`, answers the same JSON document as Chirp
for bench/operations.py's documents (same global ids, cursors and isoformat datetimes):

- `GET /home?first=20[&after=<cursor>]`: `{"data": {"homeTimeline": {"edges": [...],
  "pageInfo": {...}}}}`, as `homeTimeline` for bench/load.py's HOME_QUERY;
- `GET /public?...`: the same as `publicFeed` with that selection;
- `GET /account?handle=<handle>&first=20[&after=...]`: `{"data": {"account": {"posts":
  {...}}}}` as `account(handle:) { posts }`, `"account": null` when no account has that
  handle (any letter case) or a block stands between it and the viewer;
- `GET /thread?id=<post global id>&first=20[&after=...]`: `{"data": {"post": {"id": ...,
  "thread": {...}}}}` as `post(id:) { id thread }` (its root, then replies oldest first),
  `"post": null` when the viewer may not see that post;
- `GET /node?id=<post global id>`: `{"data": {"node": {...}}}` as `node(id:) { ... on
  Post }`, null when not visible (a post's id only: another type is BAD_USER_INPUT).

A token that is unknown, expired, revoked or whose account is suspended gets 401 with
Chirp's error. One asyncpg pool (Chirp's DB_POOL_SIZE, JIT off as app/db.py sets it), one
statement per request, prepared once per connection (asyncpg's statement cache), autocommit
(no BEGIN/COMMIT), no reset query, orjson. The statement checks the token (as
models/accounts/actions.py::authenticate), finds the account or post the page hangs from
(resolvers/accounts.py::account_by_handle, the `visible_posts_by_id` loader), reads the page
(models/timeline/queries.py with models/posts/policies.py), and the authors, the viewer's
likes and the visible reply counts (as the three dataloaders).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/chirp_bench \
        .venv/bin/python bench/raw.py --port 8002
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

MAX_PAGE = 100  # resolvers/paging.py
LIST_CURSOR = "c1:"
HANDLE_RE = re.compile(r"^[A-Za-z0-9_]{3,30}$")  # models/accounts/validation.py
UNAUTHENTICATED = orjson.dumps(
    {
        "errors": [
            {
                "message": "The session token is unknown, expired or revoked; log in again.",
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ]
    }
)


def seen(post: str, viewer: str) -> str:
    """models/posts/policies.py::_seen for one post alias, reposts aside."""
    return f"""{post}.deleted_at IS NULL
      AND NOT EXISTS (SELECT FROM blocks b
                      WHERE (b.blocker_id = {viewer} AND b.blocked_id = {post}.author_id)
                         OR (b.blocker_id = {post}.author_id AND b.blocked_id = {viewer}))
      AND ({post}.author_id = {viewer}
           OR ({post}.hidden_at IS NULL
               AND (({post}.visibility = 'PUBLIC'
                     AND NOT EXISTS (SELECT FROM accounts la
                                     WHERE la.id = {post}.author_id
                                       AND la.limited_at IS NOT NULL))
                    OR EXISTS (SELECT FROM follows fo
                               WHERE fo.follower_id = {viewer}
                                 AND fo.followee_id = {post}.author_id))))"""


def visible_to(post: str, viewer: str) -> str:
    """policies.visible_to: seen, and a repost's original seen and not hidden."""
    return f"""{seen(post, viewer)}
      AND ({post}.repost_of_id IS NULL
           OR EXISTS (SELECT FROM posts o WHERE o.id = {post}.repost_of_id
                      AND o.hidden_at IS NULL AND {seen("o", viewer)}))"""


def repost_not_muted_by(post: str, viewer: str) -> str:
    """policies.repost_not_muted_by: not a repost of a post whose author the viewer muted."""
    return f"""({post}.repost_of_id IS NULL
           OR NOT EXISTS (SELECT FROM posts mo JOIN mutes mm ON mm.muted_id = mo.author_id
                          WHERE mo.id = {post}.repost_of_id AND mm.muter_id = {viewer}))"""


def not_muted_by(post: str, viewer: str) -> str:
    """policies.not_muted_by: neither the author nor a repost's original author muted."""
    return f"""NOT EXISTS (SELECT FROM mutes m
                    WHERE m.muter_id = {viewer} AND m.muted_id = {post}.author_id)
      AND {repost_not_muted_by(post, viewer)}"""


def in_public_feed(post: str, viewer: str) -> str:
    """policies.in_public_feed: no limited author's post, but for the viewer's own."""
    return f"""({post}.author_id = {viewer}
           OR NOT EXISTS (SELECT FROM accounts pl
                          WHERE pl.id = {post}.author_id AND pl.limited_at IS NOT NULL))"""


POST_COLUMNS = """p.id, p.author_id, p.body, p.created_at, p.like_count, p.reply_count,
         p.repost_count, p.thread_root_id"""


@dataclass(frozen=True)
class Page:
    """One route's statement: `page` its posts (`v.id` the viewer), `join` what they hang
    from (joined to the viewer `v` before the page), `anchor` that thing's id (NULL: none
    to show), `order` the page's order by id."""

    page: str
    join: str = ""
    anchor: str = "NULL"
    order: str = "DESC"


# Each route's page. Timelines: $2 the `after` key or NULL, $3 first + 1.
PAGES = {
    # models/timeline/queries.py::home_page
    "/home": Page(f"""
  SELECT {POST_COLUMNS}
  FROM feed_entries f JOIN posts p ON p.id = f.post_id
  WHERE f.owner_id = v.id AND f.post_id < coalesce($2, 9223372036854775807)
    AND {visible_to("p", "v.id")}
    AND {not_muted_by("p", "v.id")}
  ORDER BY f.post_id DESC
  LIMIT $3"""),
    # models/timeline/queries.py::public_page (ix_posts_public_feed)
    "/public": Page(f"""
  SELECT {POST_COLUMNS}
  FROM posts p
  WHERE p.visibility = 'PUBLIC' AND p.deleted_at IS NULL AND p.reply_to_id IS NULL
    AND p.id < coalesce($2, 9223372036854775807)
    AND {visible_to("p", "v.id")}
    AND {in_public_feed("p", "v.id")}
    AND {not_muted_by("p", "v.id")}
  ORDER BY p.id DESC
  LIMIT $3"""),
    # $4 the handle's key. resolvers/accounts.py::account_by_handle, then
    # models/timeline/queries.py::account_page (ix_posts_author_id_id).
    "/account": Page(
        f"""
  SELECT {POST_COLUMNS}
  FROM posts p
  WHERE p.author_id = acc.id AND p.id < coalesce($2, 9223372036854775807)
    AND {visible_to("p", "v.id")}
    AND {repost_not_muted_by("p", "v.id")}
  ORDER BY p.id DESC
  LIMIT $3""",
        join="""
LEFT JOIN accounts acc ON acc.handle_key = $4
  AND NOT EXISTS (SELECT FROM blocks ab
                  WHERE (ab.blocker_id = v.id AND ab.blocked_id = acc.id)
                     OR (ab.blocker_id = acc.id AND ab.blocked_id = v.id))""",
        anchor="acc.id",
    ),
    # $4 the post's id: the post if visible (the `visible_posts_by_id` loader), then
    # models/timeline/queries.py::thread_page from its root, oldest first.
    "/thread": Page(
        f"""
  SELECT {POST_COLUMNS}
  FROM posts p
  WHERE (p.id = coalesce(tp.thread_root_id, tp.id)
         OR p.thread_root_id = coalesce(tp.thread_root_id, tp.id))
    AND p.id > coalesce($2::bigint, 0)
    AND {visible_to("p", "v.id")}
  ORDER BY p.id ASC
  LIMIT $3""",
        join=f"""
LEFT JOIN posts tp ON tp.id = $4 AND {visible_to("tp", "v.id")}""",
        anchor="tp.id",
        order="ASC",
    ),
    # $2 the post's id: the `visible_posts_by_id` loader.
    "/node": Page(f"""
  SELECT {POST_COLUMNS}
  FROM posts p
  WHERE p.id = $2 AND {visible_to("p", "v.id")}"""),
}


def page_statement(page: Page) -> str:
    """The whole request as one statement. $1 is the token's digest. No row: not
    authenticated; one row with a NULL id: an empty page (and a NULL anchor: no account or
    post to show). Replies are found through their thread (ix_posts_thread_root_id_id: a
    reply's thread root is its parent's, or the parent itself when that is a root); the
    count is Chirp's (visible_reply_counts), looked up only when the stored count is not
    0."""
    return f"""
WITH viewer AS (
  SELECT a.id FROM login_sessions s JOIN accounts a ON a.id = s.account_id
  WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > now()
    AND (a.suspended_at IS NULL
         OR (a.suspended_until IS NOT NULL AND a.suspended_until <= now()))
)
SELECT page.id, page.body, page.created_at, page.like_count, page.repost_count,
       au.handle, au.display_name,
       EXISTS (SELECT FROM likes l
               WHERE l.account_id = v.id AND l.post_id = page.id) AS liked,
       CASE WHEN page.reply_count = 0 THEN 0 ELSE (
         SELECT count(*) FROM posts r
         WHERE r.thread_root_id = coalesce(page.thread_root_id, page.id)
           AND r.reply_to_id = page.id AND {visible_to("r", "v.id")}) END AS replies,
       {page.anchor} AS anchor
FROM viewer v{page.join}
LEFT JOIN LATERAL ({page.page}
) page ON true
LEFT JOIN accounts au ON au.id = page.author_id
ORDER BY page.id {page.order}
"""


def cursor(key: int) -> str:
    return base64.urlsafe_b64encode(f"{LIST_CURSOR}{key}".encode()).decode()


def decode_cursor(value: str | None) -> int | None:
    if value is None:
        return None
    raw = base64.urlsafe_b64decode(value.encode()).decode()
    if not raw.startswith(LIST_CURSOR):
        raise ValueError(raw)
    return int(raw[len(LIST_CURSOR) :])


def global_id(key: int) -> str:
    return base64.b64encode(f"Post:{key}".encode()).decode()


def post_key(value: str | None) -> int:
    """A post's global id (Chirp's `Post:<id>`, base64) as its key; ValueError otherwise."""
    if value is None:
        raise ValueError("no id")
    kind, _, key = base64.b64decode(value.encode(), validate=True).decode().partition(":")
    if kind != "Post" or not key.isdigit():
        raise ValueError(value)
    return int(key)


def node(row: Any) -> dict[str, Any]:
    return {
        "id": global_id(row[0]),
        "body": row[1],
        "createdAt": row[2].isoformat(),
        "likeCount": row[3],
        "replyCount": row[8],
        "repostCount": row[4],
        "viewerHasLiked": row[7],
        "author": {"handle": row[5], "displayName": row[6]},
    }


def connection(posts: list[Any], first: int) -> dict[str, Any]:
    edges = [{"cursor": cursor(r[0]), "node": node(r)} for r in posts[:first]]
    return {
        "edges": edges,
        "pageInfo": {
            "hasNextPage": len(posts) > first,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def bad_request(message: str) -> Response:
    body = orjson.dumps(
        {"errors": [{"message": message, "extensions": {"code": "BAD_USER_INPUT"}}]}
    )
    return Response(body, status_code=400, media_type="application/json")


async def _keep(connection: asyncpg.Connection) -> None:
    """No reset query when a connection goes back to the pool (asyncpg's default sends one
    per checkout): a lone autocommit SELECT leaves no session state behind."""


def create_app(database_url: str, *, pool_size: int) -> Starlette:
    pool: asyncpg.Pool | None = None
    statements = {path: page_statement(page) for path, page in PAGES.items()}
    fields = {"/home": "homeTimeline", "/public": "publicFeed"}

    def arguments(path: str, query: Any, first: int) -> tuple[Any, ...]:
        """The statement's arguments after the digest; ValueError for a malformed one."""
        if path == "/node":
            return (post_key(query.get("id")),)
        after = query.get("after")
        timeline = (decode_cursor(after), first + 1)
        if path == "/account":
            handle = query.get("handle", "")
            # models/accounts/actions.py::get_account_by_handle: no account has a handle
            # that is not one (the empty key matches none).
            return (*timeline, handle.casefold() if HANDLE_RE.match(handle) else "")
        if path == "/thread":
            return (*timeline, post_key(query.get("id")))
        return timeline

    def data(path: str, rows: list[Any], first: int) -> dict[str, Any]:
        posts = [r for r in rows if r[0] is not None]
        if path == "/node":
            return {"node": node(posts[0]) if posts else None}
        anchor = rows[0][9]
        if path == "/account":
            return {"account": None if anchor is None else {"posts": connection(posts, first)}}
        if path == "/thread":
            if anchor is None:
                return {"post": None}
            return {"post": {"id": global_id(anchor), "thread": connection(posts, first)}}
        return {fields[path]: connection(posts, first)}

    async def page(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return Response(UNAUTHENTICATED, status_code=401, media_type="application/json")
        path = request.url.path
        try:
            first = int(request.query_params.get("first", "20"))
            args = arguments(path, request.query_params, first)
        except (ValueError, UnicodeError):
            return bad_request("first, after and id must be valid")
        if path != "/node" and not 1 <= first <= MAX_PAGE:
            return bad_request(f"`first` must be between 1 and {MAX_PAGE}.")
        digest = hashlib.sha256(token.strip().encode()).hexdigest()
        assert pool is not None
        rows = await pool.fetch(statements[path], digest, *args)
        if not rows:
            return Response(UNAUTHENTICATED, status_code=401, media_type="application/json")
        document = {"data": data(path, rows, first)}
        return Response(orjson.dumps(document), media_type="application/json")

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        nonlocal pool
        pool = await asyncpg.create_pool(
            database_url,
            min_size=pool_size,
            max_size=pool_size,
            server_settings={"jit": "off", "application_name": "chirp-bench-raw"},
            reset=_keep,
        )
        yield
        await pool.close()

    return Starlette(routes=[Route(path, page) for path in PAGES], lifespan=lifespan)


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description="The raw reference endpoints.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/chirp_bench")
    url = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    pool_size = int(os.environ.get("DB_POOL_SIZE", "20"))
    # No access log: the reference does the least a server must (Chirp writes one line per
    # request, PostGraphile none).
    uvicorn.run(
        create_app(url, pool_size=pool_size),
        host=args.host,
        port=args.port,
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
