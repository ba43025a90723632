"""Refusals of a retried key. Not `DomainError`s: no mutation's result union declares them;
they reach the client as top-level errors with `extensions.code`, never masked."""

from __future__ import annotations

from datetime import datetime

KEY_INVALID = "IDEMPOTENCY_KEY_INVALID"
KEY_IN_USE = "IDEMPOTENCY_KEY_IN_USE"
KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
# Seconds a client waits before retrying a key in use.
IN_USE_RETRY_SECONDS = 1


class KeyRefused(Exception):
    """The key cannot run this request now; `extensions` is what the client reads."""

    code = KEY_IN_USE

    @property
    def extensions(self) -> dict[str, object]:
        return {"code": self.code}


class KeyInUse(KeyRefused):
    """Another request with this key has taken it and has not stored its answer yet: it is
    still running, or it committed and its process died before answering."""

    code = KEY_IN_USE

    def __init__(self, taken_at: datetime | None = None) -> None:
        super().__init__(
            "A request with this Idempotency-Key is still in progress, or its answer was "
            f"lost; retry in {IN_USE_RETRY_SECONDS} second(s) with the same key."
        )
        self.taken_at = taken_at

    @property
    def extensions(self) -> dict[str, object]:
        extensions: dict[str, object] = {"code": self.code, "retryAfter": IN_USE_RETRY_SECONDS}
        if self.taken_at is not None:
            # A key taken long ago (longer than any mutation runs) lost its answer.
            extensions["takenAt"] = self.taken_at.isoformat()
        return extensions


class KeyReused(KeyRefused):
    """The key was used for a different request (operation, document or variables)."""

    code = KEY_REUSED

    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was already used for a different request (operation name, "
            "document or variables); use a new key for a new request."
        )


class KeyInvalid(KeyRefused):
    """The key is not 1 to 255 printable ASCII characters."""

    code = KEY_INVALID

    def __init__(self, why: str) -> None:
        super().__init__(
            f"Bad Idempotency-Key: {why}. A key is 1 to 255 printable ASCII characters."
        )
