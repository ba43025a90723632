"""The `chirp` command, run as a user would: migrate, seed, refuse to serve unmigrated."""

from __future__ import annotations

import json
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app import db
from app.schema import SDL_PATH
from app.settings import Settings
from models.events import jobs as ledger
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


PRODUCTION = {
    "CHIRP_ENV": "production",
    "SECRET_KEY": "a-production-secret-of-at-least-32-characters",
    "STRIPE_API_KEY": "sk_live_not_a_real_key",
    "STRIPE_WEBHOOK_SECRET": "whsec_not_a_real_secret",
    "SMTP_HOST": "127.0.0.1",
}


async def test_migrate_then_seed_once_and_never_in_production(empty_database: Database) -> None:
    migrated = chirp(empty_database, "migrate")
    refused = run_cli("seed", DATABASE_URL=empty_database.url, **PRODUCTION)
    refused_if_empty = run_cli("seed", "--if-empty", DATABASE_URL=empty_database.url, **PRODUCTION)
    # Nothing was created in production: the same database still seeds outside it.
    seeded = chirp(empty_database, "seed", "--if-empty")
    again = chirp(empty_database, "seed", "--if-empty")
    forced = chirp(empty_database, "seed")

    assert migrated.returncode == 0, migrated.stderr
    assert f"database at migration {db.head_revision()}" in migrated.stdout
    assert (refused.returncode, refused_if_empty.returncode) == (2, 2)
    assert "refusing to seed the demo accounts in production" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert seeded.returncode == 0, seeded.stderr
    assert "ada, grace and linus" in seeded.stdout
    assert "promotion code LAUNCH-50" in seeded.stdout
    assert again.returncode == 0
    assert again.stdout == "chirp: the database already has accounts; demo data not loaded again\n"
    assert forced.returncode == 1
    assert "already has accounts" in forced.stderr


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


async def test_jobs_lists_parked_jobs_and_retries_them(empty_database: Database) -> None:
    """`chirp jobs`: a parked job is listed with its error, and `retry` makes it due again
    (the next job sweep enqueues it); status counts both states."""
    assert chirp(empty_database, "migrate").returncode == 0
    engine = db.create_engine(Settings(env="test", database_url=empty_database.url))
    policy = ledger.JobPolicy(max_attempts=1)
    try:
        async with db.create_sessionmaker(engine)() as session, session.begin():
            parked, pending = await ledger.record(
                session,
                [(4, "req-4", "chirp.fan_out_post", {"post_id": 4}),
                 (5, "req-5", "chirp.fan_out_post", {"post_id": 5})],
                policy=policy,
            )  # fmt: skip
            await ledger.start(session, parked.id, policy=policy)
            await ledger.fail(session, parked.id, attempt=1, error="KeyError: 4", policy=policy)

        status = chirp(empty_database, "jobs", "status")
        listed = chirp(empty_database, "jobs", "parked")
        refused = chirp(empty_database, "jobs", "retry")
        retried = chirp(empty_database, "jobs", "retry", str(parked.id))
        after = chirp(empty_database, "jobs", "status")

        async with db.create_sessionmaker(engine)() as session, session.begin():
            due = await ledger.claim_due(session, policy=policy, limit=10)
    finally:
        await engine.dispose()

    assert status.returncode == 0 and "pending 1, parked 1" in status.stdout
    [line] = listed.stdout.splitlines()
    job = json.loads(line)
    assert (job["id"], job["job"], job["kwargs"], job["attempts"]) == (
        parked.id, "chirp.fan_out_post", {"post_id": 4}, 1
    )  # fmt: skip
    assert job["last_error"] == "KeyError: 4" and job["request_id"] == "req-4"
    assert refused.returncode == 2 and "give job ids or --all" in refused.stderr
    assert retried.returncode == 0 and "1 parked job(s) due again" in retried.stdout
    assert "pending 2, parked 0" in after.stdout
    assert [ticket.id for ticket in due] == [parked.id]  # due now; the other after its lease
    assert pending.id != parked.id
