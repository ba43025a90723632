"""The hash chain: what each entry's hash covers, and how it links to the entry before.

Each hash is an HMAC-SHA256 keyed with a secret that is not in the database, so someone who
can write to the table but does not hold the key cannot forge an entry or re-link the chain
after removing one. Sessions carry the key in `session.info` (see app/db.py)."""

from __future__ import annotations

import hashlib
import hmac
import json

from sqlalchemy.ext.asyncio import AsyncSession

from models.audit.tables import AuditEntry

GENESIS = "0" * 64
KEY_INFO = "chirp_audit_key"


def chain_key(session: AsyncSession) -> bytes:
    """The key the session was given; fails closed: no key, no entry and no verification."""
    key = session.info.get(KEY_INFO)
    if not isinstance(key, bytes) or not key:
        raise RuntimeError("this session has no audit key: build it with the audit key")
    return key


def entry_record(entry: AuditEntry) -> dict[str, object]:
    """Every field of an entry as plain JSON values: what the hash covers (all but `hash`),
    and what an export writes."""
    return {
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
        "hash": entry.hash,
    }


def entry_hash(entry: AuditEntry, key: bytes) -> str:
    """HMAC-SHA256 over the entry's canonical JSON, which includes its id and the previous
    entry's hash: editing, removing or reordering any entry breaks every hash after it."""
    body = entry_record(entry)
    del body["hash"]
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()
