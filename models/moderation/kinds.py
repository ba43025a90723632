"""The vocabulary of moderation, stored as these strings."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Category(StrEnum):
    """Why something was reported (and, optionally, why it was acted on)."""

    SPAM = "SPAM"
    HARASSMENT = "HARASSMENT"
    HATE = "HATE"
    VIOLENCE = "VIOLENCE"
    SEXUAL_CONTENT = "SEXUAL_CONTENT"
    ILLEGAL = "ILLEGAL"
    IMPERSONATION = "IMPERSONATION"
    OTHER = "OTHER"


class Target(StrEnum):
    POST = "POST"
    ACCOUNT = "ACCOUNT"


class CaseStatus(StrEnum):
    OPEN = "OPEN"
    ACTIONED = "ACTIONED"  # closed because an action was taken
    DISMISSED = "DISMISSED"  # closed with no action


class Priority(IntEnum):
    LOW = 0
    NORMAL = 1
    HIGH = 2
    URGENT = 3


class Action(StrEnum):
    HIDE_POST = "HIDE_POST"
    MARK_POST_SENSITIVE = "MARK_POST_SENSITIVE"
    LIMIT_ACCOUNT = "LIMIT_ACCOUNT"
    SUSPEND_ACCOUNT = "SUSPEND_ACCOUNT"


POST_ACTIONS = frozenset({Action.HIDE_POST, Action.MARK_POST_SENSITIVE})


class LiftCause(StrEnum):
    LIFTED = "LIFTED"  # a moderator lifted it
    EXPIRED = "EXPIRED"  # a suspension reached its end
    OVERTURNED = "OVERTURNED"  # an appeal was upheld in the owner's favour


class StrikeStatus(StrEnum):
    IN_FORCE = "IN_FORCE"
    LIFTED = "LIFTED"
    EXPIRED = "EXPIRED"
    OVERTURNED = "OVERTURNED"


class AppealStatus(StrEnum):
    PENDING = "PENDING"
    UPHELD = "UPHELD"  # the strike stands
    OVERTURNED = "OVERTURNED"  # the strike was wrong; its action is lifted


# Reports of these categories enter the queue at HIGH priority; the rest at NORMAL.
SEVERE = frozenset({Category.ILLEGAL, Category.VIOLENCE})

# What the owner of a strike reads when staff gave no public reason of their own.
CATEGORY_EXPLANATIONS: dict[Category, str] = {
    Category.SPAM: "Spam or platform manipulation.",
    Category.HARASSMENT: "Harassment or bullying.",
    Category.HATE: "Hateful conduct.",
    Category.VIOLENCE: "Violence or threats of violence.",
    Category.SEXUAL_CONTENT: "Sexual content outside what the rules allow.",
    Category.ILLEGAL: "Illegal content or activity.",
    Category.IMPERSONATION: "Impersonation.",
    Category.OTHER: "A breach of the community rules.",
}
