"""What users and staff ask of the moderation domain, as one typed value per request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models.moderation.kinds import Action, Category, Target


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One action to put in force on a post or an account (`target_id`), and why."""

    action: Action
    target_id: int
    reason: str | None
    public_reason: str | None = None
    category: Category | None = None
    case_id: int | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReportSpec:
    """A user's report of a post or an account (`target_id`), with an optional note."""

    target: Target
    target_id: int
    category: Category
    note: str | None = None
