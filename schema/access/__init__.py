"""Two-factor authentication (TOTP) for any account; required of staff."""

from schema.access.mutations import SecurityMutations, SecurityQueries
from schema.core.surface import Surface

SURFACE = Surface(queries=(SecurityQueries,), mutations=(SecurityMutations,))
