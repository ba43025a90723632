"""Accounts: sign up, log in and out, and edit one's profile."""

from schema.accounts.mutations import AccountMutations
from schema.core.surface import Surface

SURFACE = Surface(mutations=(AccountMutations,))
