"""The client's query budget in the graph: `rateLimit`, as GitHub's."""

from schema.budget.queries import BudgetQuery
from schema.core.surface import Surface

SURFACE = Surface(queries=(BudgetQuery,))
