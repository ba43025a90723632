"""Platform statistics for ADMIN: daily sign-ups, posts and active accounts."""

from admin.statistics.fields import StatisticsQueries
from schema.core.surface import Surface

SURFACE = Surface(queries=(StatisticsQueries,))
