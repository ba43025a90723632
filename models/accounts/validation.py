"""Normalising and checking what people type into sign-up and profile forms."""

from __future__ import annotations

import re

from models.accounts import errors
from models.text import check_text

HANDLE_RE = re.compile(r"^[A-Za-z0-9_]{3,30}$")
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9.-]{1,189}\.[A-Za-z]{2,63}$")
PASSWORD_MIN = 10
PASSWORD_MAX = 256
DISPLAY_NAME_MAX = 50
BIO_MAX = 300
AVATAR_URL_MAX = 500


def check_handle(handle: str) -> str:
    if not HANDLE_RE.match(handle):
        raise errors.InvalidHandle(
            "Handles are 3 to 30 letters, digits or underscores.", field="handle"
        )
    return handle


def handle_key(handle: str) -> str:
    return handle.casefold()


def normalise_email(email: str) -> str:
    email = check_text(email, field="email").strip().lower()
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise errors.InvalidEmail("That is not a valid email address.", field="email")
    return email


def check_password(password: str) -> str:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise errors.WeakPassword(
            f"Passwords are {PASSWORD_MIN} to {PASSWORD_MAX} characters.", field="password"
        )
    return password


def check_profile(*, display_name: str | None, bio: str | None, avatar_url: str | None) -> None:
    for field, value, multiline in (
        ("displayName", display_name, False),
        ("bio", bio, True),
        ("avatarUrl", avatar_url, False),
    ):
        if value is not None:
            check_text(value, field=field, multiline=multiline)
    if display_name is not None and len(display_name) > DISPLAY_NAME_MAX:
        raise errors.InvalidProfile(
            f"Display names are at most {DISPLAY_NAME_MAX} characters.", field="displayName"
        )
    if bio is not None and len(bio) > BIO_MAX:
        raise errors.InvalidProfile(f"Bios are at most {BIO_MAX} characters.", field="bio")
    if (
        avatar_url is not None
        and avatar_url != ""
        and (len(avatar_url) > AVATAR_URL_MAX or not avatar_url.startswith("https://"))
    ):
        raise errors.InvalidProfile(
            f"Avatar URLs are https:// URLs of at most {AVATAR_URL_MAX} characters.",
            field="avatarUrl",
        )
