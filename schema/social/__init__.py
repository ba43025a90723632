"""The social graph: follow, unfollow, block, unblock, mute and unmute."""

from schema.core.surface import Surface
from schema.social.mutations import SocialMutations

SURFACE = Surface(mutations=(SocialMutations,))
