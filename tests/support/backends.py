"""Which real back ends this machine offers, and fresh databases on them."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

import asyncpg

PG_HOST, PG_PORT, PG_DB = "127.0.0.1", 5432, "test"
REDIS_URL = "redis://127.0.0.1:6379/0"


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def available_backends() -> list[str]:
    """sqlite always; postgres (with Redis) when both answer. CI sets CHIRP_REQUIRE_SERVICES
    so a missing service fails the run instead of shrinking it."""
    services_up = answers(PG_HOST, PG_PORT) and answers("127.0.0.1", 6379)
    if os.environ.get("CHIRP_REQUIRE_SERVICES") == "1" and not services_up:
        raise RuntimeError("CHIRP_REQUIRE_SERVICES=1 but PostgreSQL or Redis does not answer")
    return ["sqlite", "postgres"] if services_up else ["sqlite"]


@dataclass(frozen=True)
class Database:
    backend: str
    url: str
    redis_url: str | None
    name: str


async def create_database(backend: str, tmp: Path) -> Database:
    name = f"chirp_test_{uuid.uuid4().hex[:10]}"
    if backend == "sqlite":
        return Database(backend, f"sqlite+aiosqlite:///{tmp / (name + '.db')}", None, name)
    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, database=PG_DB, user="postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    return Database(backend, url, REDIS_URL, name)


async def drop_database(database: Database) -> None:
    if database.backend != "postgres":
        return
    conn = await asyncpg.connect(host=PG_HOST, port=PG_PORT, database=PG_DB, user="postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database.name}" WITH (FORCE)')
    finally:
        await conn.close()
