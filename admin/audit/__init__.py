"""The audit log's staff surface: the filtered log and audited exports."""

from admin.audit.fields import AuditMutations, AuditQueries
from schema.core.surface import Surface

SURFACE = Surface(queries=(AuditQueries,), mutations=(AuditMutations,))
