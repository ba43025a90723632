"""The attack documents of issue 11, verbatim, shared by the cost model's unit tests and the
API tests that send them."""

# Item 1 and its three-alias form.
ATTACK = "{ publicFeed(first:100) { edges { node { author { followers(first:100) { edges { node { posts(first:100) { edges { node { id } } } } } } } } } } }"
ATTACK_ALIASED = """{
  a: publicFeed(first:100) { edges { node { author { followers(first:100) { edges { node { posts(first:100) { edges { node { id } } } } } } } } } }
  b: publicFeed(first:100) { edges { node { author { followers(first:100) { edges { node { posts(first:100) { edges { node { id } } } } } } } } } }
  c: publicFeed(first:100) { edges { node { author { followers(first:100) { edges { node { posts(first:100) { edges { node { id } } } } } } } } } }
}"""
# Item 5.
ITEM_5 = 'mutation { createPost(input: {body: "x"}) { ... on PostPayload { post { id thread(first: 139) { edges { cursor } } } } } }'
