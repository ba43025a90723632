"""Operations read-outs for ADMIN: system status and operation costs."""

from admin.operations.fields import OperationsQueries
from schema.core.surface import Surface

SURFACE = Surface(queries=(OperationsQueries,))
