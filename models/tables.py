"""Every domain's tables, imported so the metadata is complete (for Alembic and tests)."""

from models.accounts.tables import Account, LoginSession
from models.base import Base
from models.events.tables import Event
from models.posts.tables import Like, Post, PostEdit
from models.social.tables import Block, Follow, Mute
from models.timeline.tables import FeedEntry

metadata = Base.metadata

__all__ = [
    "Account",
    "Block",
    "Event",
    "FeedEntry",
    "Follow",
    "Like",
    "LoginSession",
    "Mute",
    "Post",
    "PostEdit",
    "metadata",
]
