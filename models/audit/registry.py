"""The audit log's registrations: its table and its error codes."""

from __future__ import annotations

from models.audit import errors, tables
from models.registry import Domain

DOMAIN = Domain(
    name="audit",
    tables=(tables,),
    error_codes=(errors.InvalidFilter.code, errors.InvalidCursor.code),
)
