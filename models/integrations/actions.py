"""Configuring webhook endpoints (ADMIN, audited with a reason). The signing secret is
returned once, at creation or rotation, and never written to the audit log."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.access.roles import Role
from models.audit import actions as audit
from models.audit.actions import Actor
from models.base import utcnow
from models.errors import InvalidInput, NotFound
from models.integrations import catalogue, errors, policies, signing, urls
from models.integrations.specs import EndpointChange, EndpointSpec
from models.integrations.tables import WebhookEndpoint
from models.text import check_text

MAX_ENDPOINTS = 50
MAX_DESCRIPTION = 500
# After a rotation the old secret signs too for this long, so receivers can switch over.
ROTATION_OVERLAP = timedelta(hours=24)


def _event_types(wanted: Sequence[str]) -> list[str]:
    unknown = sorted(set(wanted) - catalogue.DELIVERABLE.keys())
    if unknown:
        raise errors.InvalidEventTypes(
            f"Unknown event types: {', '.join(unknown)}.", field="eventTypes"
        )
    if not wanted:
        raise errors.InvalidEventTypes("Choose at least one event type.", field="eventTypes")
    return sorted(set(wanted))


def _description(text: str) -> str:
    text = check_text(text.strip(), field="description")
    if len(text) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"A description is at most {MAX_DESCRIPTION} characters.", field="description"
        )
    return text


def snapshot(endpoint: WebhookEndpoint) -> dict[str, object]:
    """What the audit log keeps of an endpoint: never its secret."""
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "event_types": list(endpoint.event_types),
        "enabled": endpoint.enabled,
    }


async def _endpoint(session: AsyncSession, endpoint_id: int) -> WebhookEndpoint:
    endpoint = await session.get(WebhookEndpoint, endpoint_id, with_for_update={"key_share": True})
    if endpoint is None:
        raise NotFound("No such webhook endpoint.", field="id")
    return endpoint


async def _record(
    session: AsyncSession,
    *,
    actor: Actor,
    action: str,
    endpoint: WebhookEndpoint,
    reason: str,
    before: dict[str, object] | None,
    after: dict[str, object] | None,
) -> None:
    await audit.record_entry(
        session,
        actor=actor,
        action=action,
        target_type="webhook_endpoint",
        target_id=endpoint.id,
        reason=reason,
        before=before,
        after=after,
    )


async def create_endpoint(
    session: AsyncSession,
    *,
    actor: Actor,
    actor_roles: Collection[Role],
    spec: EndpointSpec,
    production: bool,
) -> tuple[WebhookEndpoint, str]:
    """Add an endpoint, enabled; returns it and its signing secret (shown this once)."""
    reason = audit.require_reason(spec.reason)
    policies.check(policies.may_manage_integrations(actor_roles))
    endpoint = WebhookEndpoint(
        url=urls.check_url(spec.url, production=production),
        event_types=_event_types(spec.event_types),
        description=_description(spec.description),
        secret=signing.new_secret(),
        created_by_id=actor.account_id,
    )
    count = await session.scalar(select(func.count()).select_from(WebhookEndpoint))
    if int(count or 0) >= MAX_ENDPOINTS:
        raise errors.TooManyWebhookEndpoints(
            f"At most {MAX_ENDPOINTS} endpoints; delete one you no longer use."
        )
    session.add(endpoint)
    await session.flush()
    await _record(
        session,
        actor=actor,
        action="webhook.create",
        endpoint=endpoint,
        reason=reason,
        before=None,
        after=snapshot(endpoint),
    )
    return endpoint, endpoint.secret


async def update_endpoint(
    session: AsyncSession,
    *,
    actor: Actor,
    actor_roles: Collection[Role],
    change: EndpointChange,
    production: bool,
) -> WebhookEndpoint:
    """Change an endpoint's URL, event types or description; fields left out stay."""
    reason = audit.require_reason(change.reason)
    policies.check(policies.may_manage_integrations(actor_roles))
    wanted: dict[str, object] = {}
    if change.url is not None:
        wanted["url"] = urls.check_url(change.url, production=production)
    if change.event_types is not None:
        wanted["event_types"] = _event_types(change.event_types)
    if change.description is not None:
        wanted["description"] = _description(change.description)
    endpoint = await _endpoint(session, change.endpoint_id)
    before = snapshot(endpoint)
    changed = {k: v for k, v in wanted.items() if getattr(endpoint, k) != v}
    if not changed:
        return endpoint
    for name, value in changed.items():
        setattr(endpoint, name, value)
    await session.flush()
    await _record(
        session,
        actor=actor,
        action="webhook.update",
        endpoint=endpoint,
        reason=reason,
        before=before,
        after=snapshot(endpoint),
    )
    return endpoint


async def set_endpoint_enabled(
    session: AsyncSession,
    *,
    actor: Actor,
    actor_roles: Collection[Role],
    endpoint_id: int,
    enabled: bool,
    reason: str | None,
) -> WebhookEndpoint:
    """Turn deliveries to an endpoint on or off. Pending deliveries wait while it is off and
    resume when it is on again; turning it on clears its failure streak. Idempotent."""
    reason = audit.require_reason(reason)
    policies.check(policies.may_manage_integrations(actor_roles))
    endpoint = await _endpoint(session, endpoint_id)
    if endpoint.enabled == enabled:
        return endpoint
    before = snapshot(endpoint)
    if enabled:
        _enable(endpoint)
    else:
        disable(endpoint, why=reason)
    await session.flush()
    await _record(
        session,
        actor=actor,
        action="webhook.enable" if enabled else "webhook.disable",
        endpoint=endpoint,
        reason=reason,
        before=before,
        after=snapshot(endpoint),
    )
    return endpoint


def disable(endpoint: WebhookEndpoint, *, why: str) -> None:
    endpoint.enabled, endpoint.disabled_at = False, utcnow()
    endpoint.disabled_reason = why[:300]


def _enable(endpoint: WebhookEndpoint) -> None:
    endpoint.enabled, endpoint.disabled_at, endpoint.disabled_reason = True, None, ""
    endpoint.consecutive_failures, endpoint.failing_since = 0, None


async def rotate_endpoint_secret(
    session: AsyncSession,
    *,
    actor: Actor,
    actor_roles: Collection[Role],
    endpoint_id: int,
    reason: str | None,
) -> tuple[WebhookEndpoint, str]:
    """A new signing secret (shown this once); the old one also signs for 24 hours."""
    reason = audit.require_reason(reason)
    policies.check(policies.may_manage_integrations(actor_roles))
    endpoint = await _endpoint(session, endpoint_id)
    now = utcnow()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + ROTATION_OVERLAP
    endpoint.secret, endpoint.secret_rotated_at = signing.new_secret(), now
    await session.flush()
    await _record(
        session,
        actor=actor,
        action="webhook.rotate_secret",
        endpoint=endpoint,
        reason=reason,
        before=None,
        after={"previous_secret_valid_until": endpoint.previous_secret_expires_at.isoformat()},
    )
    return endpoint, endpoint.secret


async def delete_endpoint(
    session: AsyncSession,
    *,
    actor: Actor,
    actor_roles: Collection[Role],
    endpoint_id: int,
    reason: str | None,
) -> None:
    """Remove an endpoint with its deliveries and their log."""
    reason = audit.require_reason(reason)
    policies.check(policies.may_manage_integrations(actor_roles))
    endpoint = await _endpoint(session, endpoint_id)
    before = snapshot(endpoint)
    await session.execute(delete(WebhookEndpoint).where(WebhookEndpoint.id == endpoint.id))
    await _record(
        session,
        actor=actor,
        action="webhook.delete",
        endpoint=endpoint,
        reason=reason,
        before=before,
        after=None,
    )
