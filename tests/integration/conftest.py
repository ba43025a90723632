"""Fixtures of the integration tier's fault tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.servers import PostgresServer


@pytest.fixture
async def postgres(tmp_path: Path) -> AsyncIterator[PostgresServer]:
    """A private PostgreSQL cluster (initdb on a free port) that the test may stop and
    start; never the machine's own."""
    server = PostgresServer(tmp_path)
    await server.create()
    await server.start()
    try:
        yield server
    finally:
        await server.remove()
