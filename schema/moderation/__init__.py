"""Moderation as users meet it: reporting, their strikes and appeals, and the moderation
fields on `Account`."""

from schema.core.surface import Surface
from schema.moderation.account_fields import AccountModerationFields
from schema.moderation.mutations import ModerationUserMutations

SURFACE = Surface(mutations=(ModerationUserMutations,), account_fields=(AccountModerationFields,))
