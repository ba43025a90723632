"""The operations bench/compare.py can run, keyed by name: for each, Chirp's GraphQL document,
the raw reference's route (bench/raw.py) and PostGraphile's document (bench/postgraphile/),
and how to reduce each server's answer to comparable rows.

To add one (publicFeed, accountPosts, thread, node(id:)): a route in bench/raw.py, a function
in bench/postgraphile/schema.sql, and an `Operation` here. Not run on its own.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from load import HOME_QUERY, Viewer

SERVERS = ("raw", "postgraphile", "chirp")
PAGE = 20

# One post as every server must show it: id, body, createdAt, likes, visible replies,
# reposts, liked by the viewer, author handle and display name.
Row = tuple[int, str, datetime, int, int, int, bool, str, str]


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: str = ""


@dataclass(frozen=True)
class Operation:
    name: str
    chirp_field: str
    chirp_document: str
    raw_path: str
    postgraphile_field: str
    postgraphile_document: str

    def request(self, server: str, viewer: Viewer) -> Request:
        bearer = {"authorization": f"Bearer {viewer.token}"}
        json_body = {"content-type": "application/json"}
        if server == "raw":
            return Request("GET", self.raw_path, bearer)
        if server == "chirp":
            body = {"query": self.chirp_document, "variables": {"first": PAGE}}
            return Request("POST", "/graphql", bearer | json_body, json.dumps(body))
        # PostGraphile does no authentication: the viewer is an argument.
        variables = {"viewer": str(viewer.id), "first": PAGE}
        body = {"query": self.postgraphile_document, "variables": variables}
        return Request("POST", "/graphql", json_body, json.dumps(body))

    def rows(self, server: str, document: dict[str, Any]) -> tuple[list[Row], bool]:
        """The posts of a page and whether there is a next one, whichever server sent it."""
        if server == "postgraphile":
            page = document["data"][self.postgraphile_field]
            return [_postgraphile_row(e["node"]) for e in page["edges"]], page["pageInfo"][
                "hasNextPage"
            ]
        page = document["data"][self.chirp_field]
        return [_chirp_row(e["node"]) for e in page["edges"]], page["pageInfo"]["hasNextPage"]


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


POSTGRAPHILE_NODE = """
        rowId
        body
        createdAt
        likeCount
        visibleReplyCount(viewer: $viewer)
        repostCount
        viewerHasLiked(viewer: $viewer)
        author { handle displayName }"""


def postgraphile_document(operation: str, field: str) -> str:
    return f"""
query {operation}($viewer: BigInt!, $first: Int!) {{
  {field}(viewer: $viewer, first: $first) {{
    edges {{
      cursor
      node {{{POSTGRAPHILE_NODE}
      }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}
"""


# Chirp's public feed with the home page's selection (bench/load.py's HOME_QUERY).
PUBLIC_QUERY = HOME_QUERY.replace("HomeTimeline", "PublicFeed").replace(
    "homeTimeline(", "publicFeed("
)

OPERATIONS: dict[str, Operation] = {
    "homeTimeline": Operation(
        name="homeTimeline",
        chirp_field="homeTimeline",
        chirp_document=HOME_QUERY,
        raw_path=f"/home?first={PAGE}",
        postgraphile_field="homeTimeline",
        postgraphile_document=postgraphile_document("HomeTimeline", "homeTimeline"),
    ),
    "publicFeed": Operation(
        name="publicFeed",
        chirp_field="publicFeed",
        chirp_document=PUBLIC_QUERY,
        raw_path=f"/public?first={PAGE}",
        postgraphile_field="publicFeed",
        postgraphile_document=postgraphile_document("PublicFeed", "publicFeed"),
    ),
}
