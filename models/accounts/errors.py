"""Account errors with stable codes."""

from __future__ import annotations

from models.errors import AuthenticationFailed, Conflict, InvalidInput


class HandleTaken(Conflict):
    code = "HANDLE_TAKEN"


class EmailTaken(Conflict):
    code = "EMAIL_TAKEN"


class InvalidHandle(InvalidInput):
    code = "INVALID_HANDLE"


class InvalidEmail(InvalidInput):
    code = "INVALID_EMAIL"


class WeakPassword(InvalidInput):
    code = "PASSWORD_TOO_SHORT"


class InvalidProfile(InvalidInput):
    code = "INVALID_PROFILE"


class InvalidCredentials(AuthenticationFailed):
    code = "INVALID_CREDENTIALS"


class InvalidSearch(InvalidInput):
    code = "INVALID_FILTER"
