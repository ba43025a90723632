"""Public ids as the GraphQL API shows them, also for data that leaves Chirp (webhooks, CSV)."""

from __future__ import annotations

import base64


def global_id(type_name: str, key: int) -> str:
    """The id the API uses for the object: base64 of `Type:key` (the Relay convention)."""
    return base64.b64encode(f"{type_name}:{key}".encode()).decode()
