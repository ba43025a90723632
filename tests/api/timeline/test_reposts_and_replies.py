"""Reposts do not carry a muted or blocked author past the viewer's wishes, and a post's
`replyCount` counts only the replies the viewer may see (issue 11, item 7)."""

from __future__ import annotations

from typing import Any

from app.runtime import Services
from tests.conftest import eventually
from tests.integration.test_query_counts import counting_statements
from tests.support.accounts import User, follow, post, sign_up
from tests.support.graphql import GraphQLClient

HOME = "query { homeTimeline(first: 20) { edges { node { id body repostOf { body } } } } }"
PUBLIC = "query { publicFeed(first: 20) { edges { node { id body repostOf { body } } } } }"
ACCOUNT_POSTS = """
query ($handle: String!) {
  account(handle: $handle) { posts(first: 20) { edges { node { id body repostOf { body } } } } }
}
"""
NODE = "query ($id: ID!) { node(id: $id) { id } }"
REPOST = """
mutation ($id: ID!) { repostPost(input: {postId: $id}) { ... on PostPayload { post { id } } } }
"""
EDGE = "mutation ($id: ID!) {{ {name}(input: {{accountId: $id}}) {{ __typename }} }}"
REPLY_COUNT = "query ($id: ID!) { node(id: $id) { ... on Post { replyCount } } }"
FEED_COUNTS = "query { publicFeed(first: 20) { edges { node { body replyCount } } } }"


async def _edge(gql: GraphQLClient, name: str, actor: User, target: User) -> None:
    done = await gql.execute(EDGE.format(name=name), {"id": target.id}, token=actor.token)
    assert done[name]["__typename"] == "AccountPayload", done


async def _repost(gql: GraphQLClient, reposter: User, post_id: str) -> str:
    data = await gql.execute(REPOST, {"id": post_id}, token=reposter.token)
    repost_id: str = data["repostPost"]["post"]["id"]
    return repost_id


def _shown(data: dict[str, Any], *path: str) -> list[str]:
    for key in path:
        data = data[key]
    return [
        e["node"]["repostOf"]["body"] if e["node"]["repostOf"] else e["node"]["body"]
        for e in data["edges"]
    ]


async def _everywhere(gql: GraphQLClient, viewer: User, reposter: User) -> dict[str, list[str]]:
    home = await gql.execute(HOME, token=viewer.token)
    public = await gql.execute(PUBLIC, token=viewer.token)
    account = await gql.execute(ACCOUNT_POSTS, {"handle": reposter.handle}, token=viewer.token)
    return {
        "home": _shown(home, "homeTimeline"),
        "public": _shown(public, "publicFeed"),
        "account": _shown(account, "account", "posts"),
    }


async def _arrange(gql: GraphQLClient) -> tuple[User, User, User, str]:
    """ada follows grace; grace reposts linus's post, then posts her own."""
    ada, grace, linus = [await sign_up(gql, h) for h in ("ada", "grace", "linus")]
    await follow(gql, ada, grace)
    original = await post(gql, linus, "linus speaking")
    repost = await _repost(gql, grace, original)
    await post(gql, grace, "grace speaking")

    async def fanned_out() -> bool:
        home = await gql.execute(HOME, token=ada.token)
        return len(home["homeTimeline"]["edges"]) == 2

    await eventually(fanned_out)
    return ada, grace, linus, repost


async def test_a_repost_does_not_show_an_author_the_viewer_muted(gql: GraphQLClient) -> None:
    ada, grace, linus, _ = await _arrange(gql)
    before = await _everywhere(gql, ada, grace)

    await _edge(gql, "muteAccount", ada, linus)
    muted = await _everywhere(gql, ada, grace)

    assert before["home"] == ["grace speaking", "linus speaking"]
    assert muted == {
        "home": ["grace speaking"],
        "public": ["grace speaking"],
        "account": ["grace speaking"],
    }
    # Muting is a timeline filter: linus's own page still shows him to ada.
    own = await gql.execute(ACCOUNT_POSTS, {"handle": "linus"}, token=ada.token)
    assert _shown(own, "account", "posts") == ["linus speaking"]


async def test_a_repost_does_not_cross_a_block_either_way(gql: GraphQLClient) -> None:
    ada, grace, linus, repost = await _arrange(gql)
    await _edge(gql, "blockAccount", linus, ada)

    blocked = await _everywhere(gql, ada, grace)
    node = await gql.execute(NODE, {"id": repost}, token=ada.token)
    anonymous = await gql.execute(NODE, {"id": repost})

    assert blocked == {
        "home": ["grace speaking"],
        "public": ["grace speaking"],
        "account": ["grace speaking"],
    }
    assert node["node"] is None
    assert anonymous["node"] == {"id": repost}


async def test_reply_count_counts_only_replies_the_viewer_may_see(gql: GraphQLClient) -> None:
    author, insider, fan, stranger, blocker = [
        await sign_up(gql, h) for h in ("author", "insider", "fan", "stranger", "blocker")
    ]
    await follow(gql, fan, insider)
    root = await post(gql, author, "what do you think?")
    await post(gql, insider, "only my followers see this", replyToId=root, visibility="FOLLOWERS")
    await post(gql, blocker, "a public answer", replyToId=root)
    await _edge(gql, "blockAccount", blocker, stranger)

    async def count(viewer: User | None) -> int:
        token = None if viewer is None else viewer.token
        data = await gql.execute(REPLY_COUNT, {"id": root}, token=token)
        value: int = data["node"]["replyCount"]
        return value

    assert await count(None) == 1
    assert await count(author) == 1
    assert await count(fan) == 2
    assert await count(insider) == 2
    assert await count(stranger) == 0


async def test_reply_counts_of_a_page_are_read_in_one_batch(
    gql: GraphQLClient, services: Services
) -> None:
    author, replier = await sign_up(gql, "author"), await sign_up(gql, "replier")

    async def statements_for(posts: int) -> int:
        for n in range(posts):
            root = await post(gql, author, f"root {n}")
            await post(gql, replier, f"reply {n}", replyToId=root)
        with counting_statements(services) as statements:
            data = await gql.execute(FEED_COUNTS)
        assert {e["node"]["replyCount"] for e in data["publicFeed"]["edges"]} == {1}
        return len(statements)

    assert await statements_for(2) == await statements_for(8)
