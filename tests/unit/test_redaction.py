"""The log redaction processor: secret keys and secret-looking values are masked."""

from __future__ import annotations

from telemetry.logs import REDACTED, redact
from telemetry.metrics import OTHER, UNNAMED, BoundedLabel

TOKEN = "Zx3_kq9LmN0pQrStUvWxYz-AbCdEfGhIjKlMnOpQrS"  # the shape of a session token


def test_secret_keys_are_masked_whatever_they_hold() -> None:
    event = {
        "password": "hunter2",
        "authorization": "Bearer abc",
        "totp_code": "123456",
        "recovery_codes": ["a", "b"],
        "email": "x",
        "variables": {"input": {"password": "p", "newEmail": "e", "handle": "ada"}},
    }
    out = redact(None, "info", dict(event))
    assert out["password"] == out["authorization"] == out["totp_code"] == REDACTED
    assert out["recovery_codes"] == out["email"] == REDACTED
    assert out["variables"] == {
        "input": {"password": REDACTED, "newEmail": REDACTED, "handle": "ada"}
    }


def test_secret_values_are_masked_anywhere() -> None:
    text = (
        f"login of ada@example.com with Bearer {TOKEN} paid by 4242-4242-4242-4242 "
        "hash $argon2id$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaA; request 8d4f0a6e9b2c4d1e8f7a6b5c4d3e2f1a"
    )
    out = redact(None, "info", {"event": text, "token_hint": TOKEN, "request_id": "r" * 32})
    message = out["event"]
    for secret in ("ada@example.com", TOKEN, "4242-4242-4242-4242", "$argon2id$"):
        assert secret not in message
    assert "8d4f0a6e9b2c4d1e8f7a6b5c4d3e2f1a" in message  # hex ids stay readable
    assert out["token_hint"] == REDACTED and out["request_id"] == "r" * 32


def test_operation_labels_are_bounded() -> None:
    label = BoundedLabel(2)
    assert [label("Home"), label("Feed"), label("Third"), label("Home")] == [
        "Home",
        "Feed",
        OTHER,
        "Home",
    ]
    assert label(None) == UNNAMED and label("not a name!") == OTHER
    assert label.known("Never") == OTHER
