"""Statistics' registrations: its error code (it reads other domains' tables)."""

from __future__ import annotations

from models.registry import Domain
from models.statistics import queries

DOMAIN = Domain(name="statistics", error_codes=(queries.InvalidRange.code,))
