"""Post errors with stable codes."""

from __future__ import annotations

from models.errors import InvalidInput, NotAllowed


class PostEmpty(InvalidInput):
    code = "POST_EMPTY"


class PostTooLong(InvalidInput):
    code = "POST_TOO_LONG"


class InvalidVisibility(InvalidInput):
    code = "INVALID_VISIBILITY"


class NotAuthor(NotAllowed):
    code = "NOT_AUTHOR"


class CannotRepost(NotAllowed):
    code = "CANNOT_REPOST"


class EditWindowClosed(NotAllowed):
    """The author's plan no longer lets this post be edited (its edit window has passed)."""

    code = "EDIT_WINDOW_CLOSED"
