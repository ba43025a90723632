"""Integration failures with stable codes."""

from __future__ import annotations

from models.errors import Conflict, InvalidInput


class InvalidWebhookUrl(InvalidInput):
    code = "INVALID_WEBHOOK_URL"


class InvalidEventTypes(InvalidInput):
    code = "INVALID_EVENT_TYPES"


class TooManyWebhookEndpoints(Conflict):
    code = "TOO_MANY_WEBHOOK_ENDPOINTS"


class InvalidDateRange(InvalidInput):
    code = "INVALID_DATE_RANGE"
