"""Every domain's tables, imported through the domains' registrations so the metadata is
complete (for Alembic and tests)."""

from models.base import Base
from models.domains import DOMAINS

TABLE_MODULES = tuple(module for domain in DOMAINS for module in domain.tables)

metadata = Base.metadata

__all__ = ["TABLE_MODULES", "metadata"]
