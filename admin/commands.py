"""The back office at the command line: `chirp admin grant-role|revoke-role|enrolment-code`
(bootstraps the first ADMIN) and `chirp audit verify|prune`. Each is audited like any staff
action."""

from __future__ import annotations

import asyncio
import json
import tempfile
from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.access import actions as access
from models.access import enrolment
from models.access.roles import Role
from models.accounts import actions as accounts
from models.audit import actions as audit
from models.audit.actions import Actor
from models.audit.verify import Checkpoint, Report, verify_chain
from models.base import utcnow
from models.errors import NotFound

OPERATOR = Actor.system("cli")


async def change_role(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    handle: str,
    role: str,
    reason: str,
    grant: bool,
) -> frozenset[Role]:
    """Grant or revoke a role as the operator (no ADMIN needed: this is how the first one
    is made); recorded in the audit log as `system:cli`."""
    async with sessionmaker() as session, session.begin():
        account = await accounts.get_account_by_handle(session, handle=handle)
        if account is None:
            raise NotFound(f"No account has the handle {handle!r}.", field="handle")
        return await access.change_role(
            session,
            actor=OPERATOR,
            actor_roles=frozenset(),
            account_id=account.id,
            role=role.upper(),
            grant=grant,
            reason=reason,
            operator=True,
        )


async def issue_enrolment_code(
    sessionmaker: async_sessionmaker[AsyncSession], *, handle: str, reason: str
) -> enrolment.IssuedCode:
    """Issue, as the operator, the single-use code with which an account holding a staff
    role enrols its first second factor (this is how the first ADMIN gets one); audited as
    `system:cli`, without the code."""
    async with sessionmaker() as session, session.begin():
        account = await accounts.get_account_by_handle(session, handle=handle)
        if account is None:
            raise NotFound(f"No account has the handle {handle!r}.", field="handle")
        return await enrolment.issue_enrolment_code(
            session,
            actor=OPERATOR,
            actor_roles=frozenset(),
            account_id=account.id,
            reason=reason,
            operator=True,
        )


async def verify(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    checkpoint_file: Path | None = None,
    start_checkpoint: bool = False,
) -> Report:
    """Verify the chain; with a checkpoint file, also against the head it recorded, and
    record the new head there when the log is intact. A missing or unreadable checkpoint is
    itself a problem (someone may have removed it) unless `start_checkpoint` says to begin
    one."""
    checkpoint = None
    missing: str | None = None
    if checkpoint_file is not None:
        try:
            checkpoint = await asyncio.to_thread(_read_checkpoint, checkpoint_file)
        except FileNotFoundError:
            if not start_checkpoint:
                missing = f"checkpoint {checkpoint_file} is missing (start one with --init)"
        except (OSError, ValueError, KeyError, TypeError) as exc:
            missing = f"checkpoint {checkpoint_file} is unreadable: {exc}"
    async with sessionmaker() as session:
        report = await verify_chain(session, checkpoint=checkpoint)
    if missing is not None:
        report.problems.append(missing)
    if checkpoint_file is not None and report.ok and report.last_id is not None:
        assert report.last_hash is not None
        head = Checkpoint(id=report.last_id, hash=report.last_hash)
        await asyncio.to_thread(_write_checkpoint, checkpoint_file, head)
    return report


def _read_checkpoint(path: Path) -> Checkpoint:
    saved = json.loads(path.read_text())
    return Checkpoint(id=int(saved["id"]), hash=str(saved["hash"]))


def _write_checkpoint(path: Path, head: Checkpoint) -> None:
    record = {"id": head.id, "hash": head.hash, "verified_at": utcnow().isoformat()}
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent, prefix=f".{path.name}.", delete=False
    ) as partial:
        partial.write(json.dumps(record) + "\n")
    Path(partial.name).replace(path)


async def prune(sessionmaker: async_sessionmaker[AsyncSession], *, retention_days: int) -> int:
    """Remove entries older than the retention period; 0 days keeps everything."""
    if retention_days <= 0:
        return 0
    async with sessionmaker() as session, session.begin():
        return await audit.prune_entries(
            session, before=utcnow() - timedelta(days=retention_days), actor=OPERATOR
        )
