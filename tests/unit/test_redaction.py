"""The log redaction processor: secret keys and secret-looking values are masked."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import aiosqlite
import httpx
import pytest
import structlog

from telemetry.logs import QUIET_LIBRARIES, REDACTED, configure_logging, redact
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


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level for name in QUIET_LIBRARIES}
    try:
        yield
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, saved in levels.items():
            logging.getLogger(name).setLevel(saved)
        structlog.reset_defaults()


async def test_libraries_that_log_urls_or_sql_parameters_are_kept_quiet(
    restore_logging: None, tmp_path: Path
) -> None:
    out = io.StringIO()
    configure_logging(json=True, level="DEBUG", stream=out)
    secret_url = "https://hooks.example.com/services/T0ABC/xoxWebhookSecret123?token=abc123SECRET"
    transport = httpx.MockTransport(lambda request: httpx.Response(200, text="ok"))
    async with httpx.AsyncClient(transport=transport) as client:
        assert (await client.post(secret_url, content=b"{}")).status_code == 200
    async with aiosqlite.connect(tmp_path / "logs.db") as conn:
        await conn.execute("SELECT ?, ?", ("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "492039"))
    logging.getLogger("chirp.test").debug("still logging at DEBUG")

    text = out.getvalue()
    assert "still logging at DEBUG" in text
    for secret in ("xoxWebhookSecret123", "abc123SECRET", "JBSWY3DPEHPK3PXP", "492039"):
        assert secret not in text, secret
    for name in ("httpx", "httpcore", "aiosqlite", "taskiq"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING
