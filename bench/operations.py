"""The operations bench/compare.py can run, keyed by name: for each, Chirp's GraphQL document,
the raw reference's route (bench/raw.py) and PostGraphile's document (bench/postgraphile/),
what each viewer asks for, and how to reduce each server's answer to comparable rows.

- homeTimeline: the viewer's home page;
- publicFeed: the public feed's first page;
- accountPosts: `account(handle:) { posts }`, one of the 50 accounts with the most posts
  per viewer (viewer i gets the (i mod 50)-th);
- thread: `post(id:) { id thread }`, from one of the 50 live public posts with the most
  replies per viewer (its thread: the root, then replies oldest first);
- node: `node(id:) { ... on Post }`, one post of the viewer's home feed entries (viewer i:
  the (i mod 20)-th newest; the newest public post when the feed is empty).

What a viewer asks for is read from the database once, before the servers start
(`Operation.bind`). Every post is shown with bench/load.py's HOME_QUERY selection. Raw and
Chirp answer the same `data`; PostGraphile is compared on the rows (`Operation.rows`), and
it finds the account or post through functions of the viewer's id (`visibleAccount`,
`visiblePost`), not through its own node ids.

To add one: a route in bench/raw.py, a function in bench/postgraphile/schema.sql, and an
`Operation` here. Not run on its own.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

import asyncpg
from load import HOME_QUERY, Viewer

SERVERS = ("raw", "postgraphile", "chirp")
PAGE = 20
TARGETS = 50  # accounts, threads to rotate over
HOME_DEPTH = 20  # node: how deep into a viewer's feed entries the post may be

# One post as every server must show it: id, body, createdAt, likes, visible replies,
# reposts, liked by the viewer, author handle and display name.
Row = tuple[int, str, datetime, int, int, int, bool, str, str]

# What one viewer asks for, beyond its identity: {"handle": ...} or {"post": <post id>}.
Params = dict[str, Any]
Chooser = Callable[[asyncpg.Connection, list[Viewer]], Awaitable[list[Params]]]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: str = ""


def global_id(post_id: int) -> str:
    return base64.b64encode(f"Post:{post_id}".encode()).decode()


def _no_variables(params: Params) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Operation:
    name: str
    # Where the connection (or, `single`, the post) is in each server's `data`; a null on
    # the way is an empty page.
    chirp_path: tuple[str, ...]
    chirp_document: str
    raw_path: str  # formatted with the viewer's Params (`quote`d) and `first`
    postgraphile_path: tuple[str, ...]
    postgraphile_document: str
    single: bool = False  # one post, not a page of them
    paged: bool = True  # the documents take $first
    choose: Chooser | None = None  # each viewer's Params, in the viewers' order
    chirp_variables: Callable[[Params], dict[str, Any]] = _no_variables
    postgraphile_variables: Callable[[Params], dict[str, Any]] = _no_variables
    params: dict[int, Params] = field(default_factory=dict)  # by viewer id, once bound

    async def bind(self, dsn: str, viewers: list[Viewer]) -> Operation:
        """This operation with each viewer's Params read from the database."""
        if self.choose is None:
            return self
        conn = await asyncpg.connect(dsn)
        try:
            chosen = await self.choose(conn, viewers)
        finally:
            await conn.close()
        return dataclasses.replace(
            self, params={v.id: p for v, p in zip(viewers, chosen, strict=True)}
        )

    def request(self, server: str, viewer: Viewer) -> Request:
        params = self.params.get(viewer.id, {})
        first = {"first": PAGE} if self.paged else {}
        bearer = {"authorization": f"Bearer {viewer.token}"}
        json_body = {"content-type": "application/json"}
        if server == "raw":
            quoted = {k: quote(str(v), safe="") for k, v in params.items()}
            if "post" in params:
                quoted["id"] = quote(global_id(params["post"]), safe="")
            return Request("GET", self.raw_path.format(first=PAGE, **quoted), bearer)
        if server == "chirp":
            variables = first | self.chirp_variables(params)
            body = {"query": self.chirp_document, "variables": variables}
            return Request("POST", "/graphql", bearer | json_body, json.dumps(body))
        # PostGraphile does no authentication: the viewer is an argument.
        variables = {"viewer": str(viewer.id)} | first | self.postgraphile_variables(params)
        body = {"query": self.postgraphile_document, "variables": variables}
        return Request("POST", "/graphql", json_body, json.dumps(body))

    def rows(self, server: str, document: dict[str, Any]) -> tuple[list[Row], bool]:
        """The posts of a page and whether there is a next one, whichever server sent it."""
        pg = server == "postgraphile"
        found: Any = document["data"]
        for key in self.postgraphile_path if pg else self.chirp_path:
            found = found[key] if found is not None else None
        row = _postgraphile_row if pg else _chirp_row
        if found is None:
            return [], False
        if self.single:
            return [row(found)], False
        return [row(e["node"]) for e in found["edges"]], found["pageInfo"]["hasNextPage"]


def _chirp_row(node: dict[str, Any]) -> Row:
    kind, _, key = base64.b64decode(node["id"]).decode().partition(":")
    assert kind == "Post", node["id"]
    return (
        int(key),
        node["body"],
        datetime.fromisoformat(node["createdAt"]),
        node["likeCount"],
        node["replyCount"],
        node["repostCount"],
        node["viewerHasLiked"],
        node["author"]["handle"],
        node["author"]["displayName"],
    )


def _postgraphile_row(node: dict[str, Any]) -> Row:
    return (
        int(node["rowId"]),
        node["body"],
        datetime.fromisoformat(node["createdAt"]),  # PostGraphile writes .000000
        node["likeCount"],
        node["visibleReplyCount"],
        node["repostCount"],
        node["viewerHasLiked"],
        node["author"]["handle"],
        node["author"]["displayName"],
    )


# ------------------------------------------------------------------------ what viewers ask


async def popular_authors(conn: asyncpg.Connection, viewers: list[Viewer]) -> list[Params]:
    """The TARGETS accounts with the most posts, in turn."""
    handles = [
        r["handle"]
        for r in await conn.fetch(
            "SELECT handle FROM accounts ORDER BY posts_count DESC, id LIMIT $1", TARGETS
        )
    ]
    return [{"handle": handles[i % len(handles)]} for i in range(len(viewers))]


async def most_replied(conn: asyncpg.Connection, viewers: list[Viewer]) -> list[Params]:
    """The TARGETS live public posts with the most replies (ix_posts_replies), in turn."""
    posts = [
        r["reply_to_id"]
        for r in await conn.fetch(
            """
            SELECT r.reply_to_id FROM posts r JOIN posts t ON t.id = r.reply_to_id
            WHERE r.reply_to_id IS NOT NULL
              AND t.visibility = 'PUBLIC' AND t.deleted_at IS NULL AND t.hidden_at IS NULL
            GROUP BY r.reply_to_id ORDER BY count(*) DESC, r.reply_to_id LIMIT $1""",
            TARGETS,
        )
    ]
    return [{"post": posts[i % len(posts)]} for i in range(len(viewers))]


async def home_posts(conn: asyncpg.Connection, viewers: list[Viewer]) -> list[Params]:
    """For viewer i, the (i mod HOME_DEPTH)-th newest of its feed entries that is live and
    not hidden (the home page may still leave it out: a block, a mute, a follower-only post
    of an account no longer followed); the newest public post when it has none."""
    newest = await conn.fetchval(
        "SELECT max(id) FROM posts WHERE visibility = 'PUBLIC' AND deleted_at IS NULL "
        "AND reply_to_id IS NULL"
    )
    chosen = []
    for i, viewer in enumerate(viewers):
        entries = await conn.fetch(
            """
            SELECT f.post_id FROM feed_entries f JOIN posts p ON p.id = f.post_id
            WHERE f.owner_id = $1 AND p.deleted_at IS NULL AND p.hidden_at IS NULL
            ORDER BY f.post_id DESC LIMIT $2""",
            viewer.id,
            HOME_DEPTH,
        )
        posts = [r["post_id"] for r in entries] or [newest]
        chosen.append({"post": posts[i % len(posts)]})
    return chosen


# ------------------------------------------------------------------------------ documents

CHIRP_NODE = """
        id
        body
        createdAt
        likeCount
        replyCount
        repostCount
        viewerHasLiked
        author { handle displayName }"""

POSTGRAPHILE_NODE = """
        rowId
        body
        createdAt
        likeCount
        visibleReplyCount(viewer: $viewer)
        repostCount
        viewerHasLiked(viewer: $viewer)
        author { handle displayName }"""


def connection(field: str, node: str) -> str:
    """A page of posts: `field` is the connection field with its arguments."""
    return f"""{field} {{
    edges {{
      cursor
      node {{{node}
      }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}"""


def postgraphile_document(operation: str, field: str) -> str:
    return f"""
query {operation}($viewer: BigInt!, $first: Int!) {{
  {connection(f"{field}(viewer: $viewer, first: $first)", POSTGRAPHILE_NODE)}
}}
"""


# Chirp's public feed with the home page's selection (bench/load.py's HOME_QUERY).
PUBLIC_QUERY = HOME_QUERY.replace("HomeTimeline", "PublicFeed").replace(
    "homeTimeline(", "publicFeed("
)

ACCOUNT_QUERY = f"""
query AccountPosts($handle: String!, $first: Int!, $after: String) {{
  account(handle: $handle) {{
  {connection("posts(first: $first, after: $after)", CHIRP_NODE)}
  }}
}}
"""

PG_ACCOUNT_QUERY = f"""
query AccountPosts($viewer: BigInt!, $handle: String!, $first: Int!) {{
  visibleAccount(viewer: $viewer, handle: $handle) {{
  {connection("posts(viewer: $viewer, first: $first)", POSTGRAPHILE_NODE)}
  }}
}}
"""

THREAD_QUERY = f"""
query Thread($id: ID!, $first: Int!, $after: String) {{
  post(id: $id) {{
    id
  {connection("thread(first: $first, after: $after)", CHIRP_NODE)}
  }}
}}
"""

PG_THREAD_QUERY = f"""
query Thread($viewer: BigInt!, $post: BigInt!, $first: Int!) {{
  visiblePost(viewer: $viewer, postId: $post) {{
    rowId
  {connection("thread(viewer: $viewer, first: $first)", POSTGRAPHILE_NODE)}
  }}
}}
"""

NODE_QUERY = f"""
query Node($id: ID!) {{
  node(id: $id) {{
    ... on Post {{{CHIRP_NODE}
    }}
  }}
}}
"""

PG_NODE_QUERY = f"""
query Node($viewer: BigInt!, $post: BigInt!) {{
  visiblePost(viewer: $viewer, postId: $post) {{{POSTGRAPHILE_NODE}
  }}
}}
"""


def _chirp_post(params: Params) -> dict[str, Any]:
    return {"id": global_id(params["post"])}


def _pg_post(params: Params) -> dict[str, Any]:
    return {"post": str(params["post"])}


def _handle(params: Params) -> dict[str, Any]:
    return {"handle": params["handle"]}


OPERATIONS: dict[str, Operation] = {
    "homeTimeline": Operation(
        name="homeTimeline",
        chirp_path=("homeTimeline",),
        chirp_document=HOME_QUERY,
        raw_path="/home?first={first}",
        postgraphile_path=("homeTimeline",),
        postgraphile_document=postgraphile_document("HomeTimeline", "homeTimeline"),
    ),
    "publicFeed": Operation(
        name="publicFeed",
        chirp_path=("publicFeed",),
        chirp_document=PUBLIC_QUERY,
        raw_path="/public?first={first}",
        postgraphile_path=("publicFeed",),
        postgraphile_document=postgraphile_document("PublicFeed", "publicFeed"),
    ),
    "accountPosts": Operation(
        name="accountPosts",
        chirp_path=("account", "posts"),
        chirp_document=ACCOUNT_QUERY,
        raw_path="/account?handle={handle}&first={first}",
        postgraphile_path=("visibleAccount", "posts"),
        postgraphile_document=PG_ACCOUNT_QUERY,
        choose=popular_authors,
        chirp_variables=_handle,
        postgraphile_variables=_handle,
    ),
    "thread": Operation(
        name="thread",
        chirp_path=("post", "thread"),
        chirp_document=THREAD_QUERY,
        raw_path="/thread?id={id}&first={first}",
        postgraphile_path=("visiblePost", "thread"),
        postgraphile_document=PG_THREAD_QUERY,
        choose=most_replied,
        chirp_variables=_chirp_post,
        postgraphile_variables=_pg_post,
    ),
    "node": Operation(
        name="node",
        chirp_path=("node",),
        chirp_document=NODE_QUERY,
        raw_path="/node?id={id}",
        postgraphile_path=("visiblePost",),
        postgraphile_document=PG_NODE_QUERY,
        single=True,
        paged=False,
        choose=home_posts,
        chirp_variables=_chirp_post,
        postgraphile_variables=_pg_post,
    ),
}
