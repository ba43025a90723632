"""The public graph every domain builds on: accounts and posts, the lists that page them,
and the root fields that read them (viewer, node, account, post, the timelines)."""

from schema.core.surface import Surface
from schema.graph.queries import PublicQuery

SURFACE = Surface(queries=(PublicQuery,))
