"""The `chirp` command, run as a user would: migrate, seed, refuse to serve unmigrated."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app import db
from app.schema import SDL_PATH
from tests.support.backends import Database, available_backends, create_database, drop_database
from tests.support.cli import chirp as run_database_cli
from tests.support.cli import run_cli


@pytest.fixture(params=available_backends())
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    database = await create_database(request.param, tmp_path)
    yield database
    await drop_database(database)


def chirp(database: Database, *args: str) -> subprocess.CompletedProcess[str]:
    return run_database_cli(database.url, *args)


async def test_serve_refuses_an_unmigrated_database_and_says_what_to_run(
    empty_database: Database,
) -> None:
    result = chirp(empty_database, "serve", "--port", "1")

    assert result.returncode == 2
    assert "chirp migrate" in result.stderr
    assert "Traceback" not in result.stderr


async def test_migrate_then_seed_once(empty_database: Database) -> None:
    migrated = chirp(empty_database, "migrate")
    seeded = chirp(empty_database, "seed", "--if-empty")
    again = chirp(empty_database, "seed", "--if-empty")
    forced = chirp(empty_database, "seed")

    assert migrated.returncode == 0, migrated.stderr
    assert f"database at migration {db.head_revision()}" in migrated.stdout
    assert seeded.returncode == 0, seeded.stderr
    assert "ada, grace and linus" in seeded.stdout
    assert again.returncode == 0
    assert again.stdout == "chirp: the database already has accounts; demo data not loaded again\n"
    assert forced.returncode == 1
    assert "already has accounts" in forced.stderr


async def test_seed_refuses_to_create_the_demo_accounts_in_production(
    empty_database: Database,
) -> None:
    migrated = chirp(empty_database, "migrate")
    production = {
        "DATABASE_URL": empty_database.url,
        "CHIRP_ENV": "production",
        "SECRET_KEY": "a-production-secret-of-at-least-32-characters",
        "STRIPE_API_KEY": "sk_live_not_a_real_key",
        "STRIPE_WEBHOOK_SECRET": "whsec_not_a_real_secret",
        "SMTP_HOST": "127.0.0.1",
    }

    refused = run_cli("seed", **production)
    refused_if_empty = run_cli("seed", "--if-empty", **production)
    seeded_elsewhere = chirp(empty_database, "seed")

    assert migrated.returncode == 0, migrated.stderr
    assert (refused.returncode, refused_if_empty.returncode) == (2, 2)
    assert "refusing to seed the demo accounts in production" in refused.stderr
    assert "Traceback" not in refused.stderr
    # Nothing was created: the same database still seeds outside production.
    assert seeded_elsewhere.returncode == 0, seeded_elsewhere.stderr
    assert "ada, grace and linus" in seeded_elsewhere.stdout


def test_configuration_errors_are_reported_without_a_traceback() -> None:
    result = run_cli("migrate", CHIRP_ENV="production", SECRET_KEY="")

    assert result.returncode == 2
    assert "SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_schema_export_prints_the_sdl() -> None:
    result = run_cli("schema", "export")

    assert result.returncode == 0
    assert "type Query" in result.stdout
    assert result.stdout == SDL_PATH.read_text()
