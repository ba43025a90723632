"""`chirp jobs status|parked|retry`: the job ledger for operators (docs/operations.md,
"Background jobs"). A parked job is one that failed `JOB_MAX_ATTEMPTS` times; `retry` makes
it due again, and the next job sweep of any running server or worker enqueues it."""

from __future__ import annotations

import json
import sys

from app import db
from app.settings import Settings
from models.events import jobs as ledger

COUNT_CAP = 100_000


async def command(
    settings: Settings, action: str, *, ids: list[int], retry_all: bool, limit: int
) -> int:
    engine = db.create_engine(settings)
    try:
        sessionmaker = db.create_sessionmaker(engine, audit_key=settings.audit_chain_key)
        async with sessionmaker() as session, session.begin():
            if action == "status":
                counts = await ledger.counts(session, cap=COUNT_CAP)
                print(
                    f"chirp: jobs pending {counts.pending}, parked {counts.parked}, oldest "
                    f"pending {counts.oldest_pending_seconds:.0f} s"
                )
                return 0
            if action == "parked":
                for job in await ledger.parked(session, limit=limit):
                    print(
                        json.dumps(
                            {
                                "id": job.id,
                                "job": job.name,
                                "kwargs": job.kwargs,
                                "event_seq": job.event_seq,
                                "request_id": job.request_id,
                                "attempts": job.attempts,
                                "parked_at": job.parked_at.isoformat() if job.parked_at else None,
                                "last_error": job.last_error,
                            },
                            sort_keys=True,
                        )
                    )
                return 0
            if not ids and not retry_all:
                print("chirp: jobs retry: give job ids or --all", file=sys.stderr)
                return 2
            retried = await ledger.retry(session, None if retry_all else ids)
    finally:
        await engine.dispose()
    print(f"chirp: {retried} parked job(s) due again; the next job sweep enqueues them")
    return 0 if retried or retry_all else 1
