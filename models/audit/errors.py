"""Audit-log failures the caller can correct."""

from __future__ import annotations

from models.errors import InvalidInput


class InvalidFilter(InvalidInput):
    code = "INVALID_FILTER"


class InvalidCursor(InvalidInput):
    """An audit-log or export cursor that this server did not hand out."""

    code = "INVALID_CURSOR"
