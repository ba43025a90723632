"""Retention under both back ends as operators and processes run it: `chirp retention` in a
fresh process, and two sweeps (two engines, as two processes) pruning at once."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, insert, inspect, select

from app import db
from app.settings import Settings
from models.accounts.tables import FailedLogin
from models.mail.tables import OutboundEmail
from models.retention import rules
from models.retention.rules import RetentionPolicy
from models.retention.sweep import RetentionSweep
from models.transactions import Transactions
from tests.conftest import BACKENDS, make_settings, truncate
from tests.support import retention_rows as rows
from tests.support.backends import create_database, drop_database
from tests.support.cli import run_cli


def chirp(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, DATABASE_URL=settings.database_url, CHIRP_ENV="test", **env)


async def _fill(settings: Settings, *, old_failed_logins: int) -> None:
    """Old failed log-ins, one recent; old sent mail and old mail still to send."""
    engine = db.create_engine(settings)
    try:
        async with db.create_sessionmaker(engine)() as session, session.begin():
            await session.execute(
                insert(FailedLogin),
                [
                    {
                        "failure": "WRONG_PASSWORD",
                        "ip": "192.0.2.1",
                        "created_at": rows.days_ago(40),
                    }
                    for _ in range(old_failed_logins)
                ],
            )
            await rows.failed_login(session, age=1)
            await rows.email(session, key="sent", age=40, state="sent")
            await rows.email(session, key="pending", age=40, state="pending")
            await rows.email(session, key="recent", age=1, state="sent")
    finally:
        await engine.dispose()


async def _count(settings: Settings, table: type[object]) -> int:
    engine = db.create_engine(settings)
    try:
        async with db.create_read_sessionmaker(engine)() as session:
            return int(await session.scalar(select(func.count()).select_from(table)) or 0)
    finally:
        await engine.dispose()


def _line(output: str, table: str) -> list[str]:
    return next(line.split() for line in output.splitlines() if line.startswith(table + " "))


async def test_chirp_retention_status_dry_run_and_run(settings: Settings) -> None:
    await truncate(settings)
    await _fill(settings, old_failed_logins=3)

    status = chirp(settings, "retention", "status")
    dry = chirp(settings, "retention", "run", "--dry-run")
    after_dry = await _count(settings, FailedLogin)
    kept = chirp(settings, "retention", "run", RETENTION_FAILED_LOGINS_DAYS="0")
    one = chirp(settings, "retention", "run", "--table", "failed_logins")
    bad = chirp(settings, "retention", "run", "--table", "posts")
    rest = chirp(settings, "retention", "run")

    assert status.returncode == 0, status.stderr
    # table, retention, rows, past retention, prunable, oldest
    assert _line(status.stdout, "failed_logins") == ["failed_logins", "30d", "4", "3", "3", "40d"]
    assert _line(status.stdout, "outbound_emails") == [
        "outbound_emails",
        "30d",
        "3",
        "2",
        "1",
        "40d",
    ]
    assert dry.returncode == 0, dry.stderr
    assert "failed_logins: would remove 3" in dry.stdout
    assert after_dry == 4
    assert "failed_logins: kept for ever (retention 0 days)" in kept.stdout
    assert "outbound_emails: removed 1" in kept.stdout
    assert one.stdout == "failed_logins: removed 3\n"
    assert bad.returncode == 2
    assert "invalid choice: 'posts'" in bad.stderr
    assert "Traceback" not in bad.stderr
    assert "failed_logins: removed 0" in rest.stdout
    assert await _count(settings, FailedLogin) == 1
    assert await _count(settings, OutboundEmail) == 2


async def test_two_sweeps_at_once_remove_every_prunable_row_once(settings: Settings) -> None:
    await truncate(settings)
    await _fill(settings, old_failed_logins=1200)
    policy = RetentionPolicy(
        periods={
            rules.FAILED_LOGINS: timedelta(days=30),
            rules.OUTBOUND_EMAILS: timedelta(days=30),
        },
        batch=100,
        sweep_batches=100,
    )
    engines = [db.create_engine(settings) for _ in range(2)]
    try:
        sweeps = [
            RetentionSweep(
                Transactions(db.create_sessionmaker(engine)),
                db.create_read_sessionmaker(engine),
                policy,
            )
            for engine in engines
        ]
        removed = await asyncio.gather(*(sweep.run_once() for sweep in sweeps))
    finally:
        for engine in engines:
            await engine.dispose()

    # Every old failed log-in and the old sent mail, each removed once, by one sweep or the
    # other (the recent rows are the newest of their tables).
    assert sum(removed) == 1200 + 1
    assert await _count(settings, FailedLogin) == 1
    assert await _count(settings, OutboundEmail) == 2


def _index_names(sync: Connection) -> set[str]:
    found = inspect(sync)
    return {
        index["name"] or ""
        for table in ("events", "webhook_deliveries", "failed_logins")
        for index in found.get_indexes(table)
    }


@pytest.mark.parametrize("backend", BACKENDS)
async def test_migration_0014_goes_down_and_up_again(backend: str, tmp_path: Path) -> None:
    database = await create_database(backend, tmp_path)
    engine = db.create_engine(make_settings(database))
    try:
        await db.migrate(engine)
        async with engine.connect() as conn:
            at_head = await conn.run_sync(_index_names)
        await db.downgrade(engine, "0012")
        async with engine.connect() as conn:
            before = await conn.run_sync(_index_names)
        await db.migrate(engine)
        async with engine.connect() as conn:
            again = await conn.run_sync(_index_names)
    finally:
        await engine.dispose()
        await drop_database(database)

    added = {
        "ix_events_created_at",
        "ix_webhook_deliveries_event_id",
        "ix_failed_logins_created_at",
    }
    assert added <= at_head
    assert not added & before
    assert again == at_head
