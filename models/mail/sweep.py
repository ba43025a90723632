"""The mail sweep: sends the emails that are due (retries whose wait is over, emails whose
job was lost or whose send's lease ran out). Safe in several processes at once (each send
claims its row first)."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.base import utcnow
from models.mail import actions as mail
from models.mail.actions import MailSender
from models.transactions import Transactions

log = logging.getLogger("chirp.mail")

SWEEP_INTERVAL = 10.0
SWEEP_BATCH = 100


class MailSweep:
    """Sends what is due, stopping at the first failure (the relay is most likely down)."""

    def __init__(
        self,
        transactions: Transactions,
        read_sessionmaker: async_sessionmaker[AsyncSession],
        sender: MailSender,
    ) -> None:
        self._transactions = transactions
        self._read_sessionmaker = read_sessionmaker
        self._sender = sender

    async def run_once(self) -> int:
        """Send what is due; returns how many emails went out."""
        async with self._read_sessionmaker() as session:
            due = await mail.due_email_ids(session, now=utcnow(), limit=SWEEP_BATCH)
        sent = 0
        for email_id in due:
            try:
                sent += await mail.send_queued_email(
                    self._transactions, self._sender, email_id=email_id
                )
            except Exception as exc:
                # The relay is most likely down: the rest wait for the next sweep.
                log.warning("sending email %d failed (%s); the sweep stops here", email_id, exc)
                break
        return sent
