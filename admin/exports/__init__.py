"""CSV exports for ADMIN staff, in chunks, each chunk audited."""

from admin.exports.fields import ExportMutations
from schema.core.surface import Surface

SURFACE = Surface(mutations=(ExportMutations,))
