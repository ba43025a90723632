"""Live updates over `graphql-transport-ws`: timelines and posts as they change."""

from schema.core.surface import Surface
from schema.live.subscriptions import Subscription

SURFACE = Surface(subscriptions=(Subscription,))
