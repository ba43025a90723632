"""The hash chain: what each entry's hash covers, and how it links to the entry before."""

from __future__ import annotations

import hashlib
import json

from models.audit.tables import AuditEntry

GENESIS = "0" * 64


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 over the entry's canonical JSON, which includes its id and the previous
    entry's hash: editing, removing or reordering any entry breaks every hash after it."""
    body = {
        "id": entry.id,
        "created_at": entry.created_at.isoformat(),
        "actor_id": entry.actor_id,
        "actor_handle": entry.actor_handle,
        "actor_roles": sorted(entry.actor_roles),
        "action": entry.action,
        "outcome": entry.outcome,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "reason": entry.reason,
        "before": entry.before,
        "after": entry.after,
        "request_id": entry.request_id,
        "ip": entry.ip,
        "user_agent": entry.user_agent,
        "prev_hash": entry.prev_hash,
    }
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()
