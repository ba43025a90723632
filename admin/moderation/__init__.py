"""The moderation queue, the work on a case, and moderation actions (staff)."""

from admin.moderation.actions import ModerationActionMutations
from admin.moderation.queue import ModerationCaseMutations, ModerationQueries
from schema.core.surface import Surface

SURFACE = Surface(
    queries=(ModerationQueries,),
    mutations=(ModerationCaseMutations, ModerationActionMutations),
)
