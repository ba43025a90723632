"""Outbound webhooks in the back office (ADMIN only, every change audited)."""

from admin.integrations.fields import IntegrationMutations, IntegrationQueries
from schema.core.surface import Surface

SURFACE = Surface(queries=(IntegrationQueries,), mutations=(IntegrationMutations,))
