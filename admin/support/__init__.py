"""Support tools: finding accounts, their sessions and log-in history, ending sessions."""

from admin.support.account_fields import AccountSupportFields
from admin.support.fields import SupportMutations, SupportQueries
from schema.core.surface import Surface

SURFACE = Surface(
    queries=(SupportQueries,), mutations=(SupportMutations,), account_fields=(AccountSupportFields,)
)
