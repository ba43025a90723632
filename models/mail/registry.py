"""Mail's registrations: the send job, the event that calls for it, and the mail sweep."""

from __future__ import annotations

from models.mail import actions as mail
from models.mail import tables
from models.mail.sweep import SWEEP_INTERVAL, MailSweep
from models.registry import Domain, Event, JobCall, Services, Sweep

SEND_EMAIL = "chirp.send_email"


async def send_email(services: Services, *, email_id: int) -> bool:
    """Send one queued email (one already sent or being sent is left alone)."""
    return await mail.send_queued_email(services.transactions, services.mail, email_id=email_id)


def jobs_for(event: Event) -> list[JobCall]:
    """A queued email is sent at once."""
    if event.type == mail.EMAIL_QUEUED:
        return [(SEND_EMAIL, {"email_id": event.payload["email_id"]})]
    return []


def _mail_sweep(services: Services) -> MailSweep:
    return MailSweep(services.transactions, services.read_sessionmaker, services.mail)


DOMAIN = Domain(
    name="mail",
    tables=(tables,),
    jobs={SEND_EMAIL: send_email},
    jobs_for=jobs_for,
    sweeps=(Sweep("mail-sweep", _mail_sweep, every=SWEEP_INTERVAL),),
)
