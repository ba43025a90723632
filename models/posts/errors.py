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
