"""Posts: create, reply to, repost, like, edit and delete."""

from schema.core.surface import Surface
from schema.posts.mutations import PostMutations

SURFACE = Surface(mutations=(PostMutations,))
