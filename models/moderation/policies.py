"""Yes/no rules of moderation: who sees strikes, who may be acted on, what is in force."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement, and_, or_

from models.access import policies as access_policies
from models.access.roles import Role
from models.accounts.tables import Account
from models.moderation import errors
from models.moderation.kinds import (
    CATEGORY_EXPLANATIONS,
    SEVERE,
    Category,
    LiftCause,
    Priority,
    StrikeStatus,
)
from models.moderation.tables import Strike
from models.posts.tables import PUBLIC, Post

# Who works the queue and acts; who may also read an account's strikes and standing.
MODERATORS = frozenset({Role.MODERATOR, Role.ADMIN})
STRIKE_READERS = MODERATORS | {Role.SUPPORT}


def is_moderator(roles: Collection[Role]) -> bool:
    return bool(MODERATORS & set(roles))


def may_view_strikes(*, viewer_id: int | None, roles: Collection[Role], owner_id: int) -> bool:
    """The owner sees their own strikes; moderation and support staff see anyone's."""
    return viewer_id == owner_id or bool(STRIKE_READERS & set(roles))


def reads_strike_post_as_staff(
    *, viewer_id: int | None, roles: Collection[Role], owner_id: int
) -> bool:
    """Whether the post a strike acts on is shown to the viewer as staff see it (whatever its
    state): strike readers on staff, except for their own strikes, which they see as owners."""
    return viewer_id != owner_id and bool(STRIKE_READERS & set(roles))


def staff_read_is_sensitive(post: Post) -> bool:
    """Staff reading a post that is not public, or that moderation hid or its author deleted,
    is a sensitive read and is audited."""
    return post.visibility != PUBLIC or post.hidden_at is not None or post.deleted_at is not None


def check_may_moderate(
    *,
    actor_id: int | None,
    actor_roles: Collection[Role],
    target_id: int,
    target_roles: Collection[Role],
) -> None:
    """Staff act neither on themselves nor on an account that outranks them."""
    if actor_id == target_id:
        raise errors.CannotModerateSelf("Staff do not moderate their own account or posts.")
    access_policies.check_may_act_on(actor_roles, target_roles)


def suspension_in_force(account: Account, *, now: datetime) -> bool:
    """An expired suspension never blocks, whether or not the sweep has lifted it yet."""
    return account.suspended_at is not None and (
        account.suspended_until is None or account.suspended_until > now
    )


def not_suspended(now: datetime | ColumnElement[datetime]) -> ColumnElement[bool]:
    """`suspension_in_force` negated, as SQL on `accounts`."""
    return or_(
        Account.suspended_at.is_(None),
        and_(Account.suspended_until.is_not(None), Account.suspended_until <= now),
    )


def check_may_log_in(account: Account, *, now: datetime) -> None:
    if suspension_in_force(account, now=now):
        until = account.suspended_until
        when = "until further notice" if until is None else f"until {until.isoformat()}"
        raise errors.AccountSuspended(
            f"This account is suspended {when}. Write to support to appeal."
        )


def strike_status(strike: Strike, *, now: datetime) -> StrikeStatus:
    if strike.lifted_at is not None:
        return StrikeStatus(strike.lift_cause or LiftCause.LIFTED)
    if strike.expires_at is not None and strike.expires_at <= now:
        return StrikeStatus.EXPIRED
    return StrikeStatus.IN_FORCE


def public_reason(strike: Strike) -> str:
    """What the owner reads: the reason written for them, or the category's explanation."""
    if strike.public_reason:
        return strike.public_reason
    category = Category(strike.category) if strike.category else Category.OTHER
    return CATEGORY_EXPLANATIONS[category]


def initial_priority(category: Category) -> Priority:
    return Priority.HIGH if category in SEVERE else Priority.NORMAL
