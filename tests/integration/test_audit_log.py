"""The audit log itself: the chain verifies after staff actions, and `chirp audit verify`
(the real command) names an entry edited or removed behind the application's back. On
PostgreSQL the append-only trigger refuses such edits first; the test then bypasses it.
Also: prune keeps the chain verifiable, and `chirp admin grant-role` makes the first ADMIN."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app import db
from app.runtime import Services
from app.settings import Settings
from models.access import actions as access
from models.access.roles import Role
from models.accounts import actions as accounts
from models.audit.actions import Actor, prune_entries, record_entry
from models.audit.verify import verify_chain
from tests.support.accounts import sign_up
from tests.support.audit import audit_entries
from tests.support.cli import chirp, tampered_lines
from tests.support.graphql import GraphQLClient
from tests.support.staff import enrol_totp, make_staff

GRANT = "mutation ($i: ChangeRoleInput!) { grantRole(input: $i) { __typename } }"
END_ALL = "mutation ($i: EndAllSessionsInput!) { endAllSessions(input: $i) { __typename } }"
EMAIL = "query ($id: ID!) { node(id: $id) { ... on Account { email } } }"
STATISTICS = 'query { platformStatistics(firstDay: "2026-01-01", lastDay: "2026-01-01") { day } }'


async def staff_actions(gql: GraphQLClient, services: Services) -> None:
    """A handful of audited staff actions: grants, a staff read, ended sessions, a refusal."""
    admin = await make_staff(gql, services, "boss", "ADMIN")
    support = await make_staff(gql, services, "helper", "SUPPORT")
    user = await sign_up(gql, "user")
    await gql.execute(
        GRANT,
        {"i": {"accountId": user.id, "role": "AUDITOR", "reason": "new auditor"}},
        token=admin.token,
    )
    await gql.execute(EMAIL, {"id": user.id}, token=support.token)
    await gql.execute(
        END_ALL, {"i": {"accountId": user.id, "reason": "hijacked"}}, token=support.token
    )
    await gql.execute(
        END_ALL, {"i": {"accountId": admin.id, "reason": "nope"}}, token=support.token
    )


async def behind_the_back(settings: Settings, statement: str, entry_id: int) -> None:
    """Run `statement` on audit entry `entry_id` as someone with database access would."""
    engine = db.create_engine(settings)
    try:
        if not settings.is_sqlite:
            with pytest.raises(DBAPIError, match="append-only"):
                async with engine.begin() as conn:
                    await conn.execute(text(statement), {"id": entry_id})
        async with engine.begin() as conn:
            if not settings.is_sqlite:
                # Triggers do not fire for a replica: what a superuser could do.
                await conn.execute(text("SET LOCAL session_replication_role = replica"))
            await conn.execute(text(statement), {"id": entry_id})
    finally:
        await engine.dispose()


async def test_the_chain_verifies_after_staff_actions(
    gql: GraphQLClient, services: Services
) -> None:
    await staff_actions(gql, services)

    async with services.runtime.read_sessionmaker() as session:
        report = await verify_chain(session)

    entries = await audit_entries(services)
    assert report.ok, report.problems
    assert report.checked == len(entries) == 6
    assert {"role.grant", "read.email", "session.end_all"} <= {e.action for e in entries}
    assert "refused:TARGET_OUTRANKS_ACTOR" in {e.outcome for e in entries}


async def test_verify_names_the_one_edited_entry_and_exits_1(
    gql: GraphQLClient, services: Services, settings: Settings
) -> None:
    await staff_actions(gql, services)
    edited = (await audit_entries(services, action="session.end_all"))[0].id
    untouched = chirp(settings.database_url, "audit", "verify")

    await behind_the_back(
        settings, "UPDATE audit_entries SET reason = 'nothing to see' WHERE id = :id", edited
    )
    result = chirp(settings.database_url, "audit", "verify")

    assert untouched.returncode == 0, untouched.stderr
    assert "audit log intact" in untouched.stdout
    assert result.returncode == 1, result.stderr
    assert tampered_lines(result) == [
        f"TAMPERED entry {edited}: edited (its contents do not match its hash)"
    ]


async def test_verify_names_a_removed_entry(
    gql: GraphQLClient, services: Services, settings: Settings
) -> None:
    await staff_actions(gql, services)
    removed = (await audit_entries(services, action="read.email"))[0].id

    await behind_the_back(settings, "DELETE FROM audit_entries WHERE id = :id", removed)
    result = chirp(settings.database_url, "audit", "verify")

    assert result.returncode == 1, result.stderr
    assert tampered_lines(result) == [
        f"TAMPERED entry {removed}: removed (missing between {removed - 1} and {removed + 1})"
    ]


async def test_the_checkpoint_catches_entries_cut_off_the_end(
    gql: GraphQLClient, services: Services, settings: Settings, tmp_path: Path
) -> None:
    await staff_actions(gql, services)
    checkpoint = tmp_path / "audit-head.json"
    unstarted = chirp(settings.database_url, "audit", "verify", "--checkpoint", str(checkpoint))
    first = chirp(
        settings.database_url, "audit", "verify", "--checkpoint", str(checkpoint), "--init"
    )
    last = (await audit_entries(services))[-1].id

    # The newest two entries removed: what is left is still a valid chain on its own.
    await behind_the_back(settings, "DELETE FROM audit_entries WHERE id >= :id", last - 1)
    alone = chirp(settings.database_url, "audit", "verify")
    result = chirp(settings.database_url, "audit", "verify", "--checkpoint", str(checkpoint))

    assert unstarted.returncode == 1
    assert tampered_lines(unstarted) == [
        f"TAMPERED checkpoint {checkpoint} is missing (start one with --init)"
    ]
    assert first.returncode == 0, first.stderr
    assert json.loads(checkpoint.read_text())["id"] == last
    assert alone.returncode == 0
    assert result.returncode == 1, result.stderr
    assert tampered_lines(result) == [
        f"TAMPERED entry {last}: removed since the checkpoint (the log now ends at "
        f"{last - 2}): entries were cut off the end"
    ]


async def test_an_entry_written_without_the_key_is_named(
    gql: GraphQLClient, services: Services, settings: Settings
) -> None:
    await staff_actions(gql, services)
    # Someone with write access to the database but not the audit key appends an entry
    # that links correctly to the last one.
    engine = db.create_engine(settings)
    try:
        forger = db.create_sessionmaker(engine, audit_key=b"a guess at the key")
        async with forger() as session, session.begin():
            forged = await record_entry(
                session, actor=Actor.system("intruder"), action="role.grant", reason="trust me"
            )
    finally:
        await engine.dispose()

    result = chirp(settings.database_url, "audit", "verify")

    assert result.returncode == 1
    assert tampered_lines(result) == [
        f"TAMPERED entry {forged.id}: edited (its contents do not match its hash)"
    ]


async def test_the_database_refuses_to_truncate_the_log(
    gql: GraphQLClient, services: Services, settings: Settings
) -> None:
    await staff_actions(gql, services)
    engine = db.create_engine(settings)
    try:
        if settings.is_sqlite:
            return  # SQLite has no TRUNCATE; its file is the operator's to protect
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(text("TRUNCATE audit_entries"))
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as conn:  # a prune may not take today's entries
                await conn.execute(text("SET LOCAL chirp.audit_prune = 'on'"))
                await conn.execute(text("DELETE FROM audit_entries"))
    finally:
        await engine.dispose()
    assert len(await audit_entries(services)) == 6


async def test_prune_keeps_the_chain_verifiable(
    gql: GraphQLClient, services: Services, settings: Settings
) -> None:
    await make_staff(gql, services, "founder", "ADMIN")
    await staff_actions(gql, services)
    # The founder's grant is made old: retention applies to entries over a day old only.
    [founded, *rest] = await audit_entries(services)
    await behind_the_back(
        settings,
        "UPDATE audit_entries SET created_at = created_at - interval '30 days' WHERE id = :id"
        if not settings.is_sqlite
        else "UPDATE audit_entries SET created_at = datetime(created_at, '-30 days') WHERE id = :id",
        founded.id,
    )
    kept = [e.id for e in rest]
    cut = datetime.now(UTC) - timedelta(days=2)

    async with services.runtime.sessionmaker() as session, session.begin():
        removed = await prune_entries(session, before=cut, actor=Actor.system("test"))
    result = chirp(settings.database_url, "audit", "verify")

    entries = await audit_entries(services)
    assert removed == 1  # the ADMIN grant made before the cut
    assert [e.id for e in entries] == [*kept, kept[-1] + 1]
    assert entries[-1].action == "audit.pruned"
    assert result.returncode == 0, result.stdout + result.stderr
    assert tampered_lines(result) == []


async def test_grant_role_at_the_command_line_bootstraps_the_first_admin(
    gql: GraphQLClient, services: Services, settings: Settings
) -> None:
    founder = await sign_up(gql, "founder")

    granted = chirp(
        settings.database_url, "admin", "grant-role", "founder", "admin", "--reason", "first admin"
    )
    unknown = chirp(
        settings.database_url, "admin", "grant-role", "nobody", "ADMIN", "--reason", "typo"
    )
    issued = chirp(
        settings.database_url, "admin", "enrolment-code", "founder", "--reason", "first admin"
    )
    code = issued.stdout.split("enrolment code for founder: ")[1].split()[0]
    await enrol_totp(gql, founder, enrolment_code=code)
    as_admin = await gql.post(STATISTICS, token=founder.token)

    assert granted.returncode == 0, granted.stderr
    assert "founder now holds ADMIN, USER" in granted.stdout
    assert issued.returncode == 0, issued.stderr
    assert unknown.returncode == 1
    assert "NOT_FOUND" in unknown.stderr
    assert "errors" not in as_admin.json()
    async with services.runtime.read_sessionmaker() as session:
        account = await accounts.get_account_by_handle(session, handle="founder")
        assert account is not None
        assert await access.roles_of(session, account_id=account.id) == {Role.USER, Role.ADMIN}
    [entry] = await audit_entries(services, action="role.grant")
    assert (entry.actor_handle, entry.reason, entry.after) == (
        "system:cli",
        "first admin",
        {"roles": ["ADMIN", "USER"]},
    )
