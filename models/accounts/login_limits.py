"""Rate limits on log-ins (docs/operations.md#rate-limits): password guessing is slowed per
account and address, per address and per account, before any password is checked.

- `login.account_ip`: failed log-ins per account and client address (IPv6 by /64). Each
  attempt is counted before its password is checked (so concurrent guesses cannot slip past
  the count) and the right password clears the count again; its longer windows lock out for
  longer once they fill (a growing back-off).
- `login.ip`: failed log-ins from one address, whatever the account (credential stuffing).
- `login.account`: failed log-ins to one account, whatever the address. A flood from
  elsewhere must not lock the owner out, so an address that opened a session for the
  account within KNOWN_FOR is not held back by this one (it keeps its own allowance above).

`login.ip` and `login.account` count a failure once it is known, so checks running at the
same moment would all pass the same count: at most 4 checks from one address and 2 for one
account (LOGIN_IN_FLIGHT_PER_ADDRESS, LOGIN_IN_FLIGHT_PER_ACCOUNT) run at once in a
process, the next ones
are refused (retry after a second). A burst can then overshoot those rules by at most that
many per process.

A refused attempt raises RateLimited before the password is looked at: no hash is computed
and nothing is written."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.accounts.tables import Account, LoginSession
from models.base import utcnow
from models.throttle import RateLimited, Throttle, ip_group
from telemetry import metrics

ACCOUNT_IP = "login.account_ip"
IP = "login.ip"
ACCOUNT = "login.account"
RULES = (ACCOUNT_IP, IP, ACCOUNT)
# How long a log-in from an address makes it the owner's in the eyes of `login.account`.
KNOWN_FOR = timedelta(days=90)
KNOWN_SESSIONS_READ = 100
IN_FLIGHT = "login.in_flight"
# Defaults of the places in flight (LOGIN_IN_FLIGHT_PER_ADDRESS, LOGIN_IN_FLIGHT_PER_ACCOUNT).
IN_FLIGHT_IP = "login.in_flight.ip"
IN_FLIGHT_ACCOUNT = "login.in_flight.account"
IN_FLIGHT_PER_ADDRESS = 4
IN_FLIGHT_PER_ACCOUNT = 2


class LogInLimits:
    """The limits one log-in attempt is held to: `admit` before the password check, then
    `failed` or `passed` after it."""

    def __init__(
        self,
        throttle: Throttle,
        reads: async_sessionmaker[AsyncSession],
        *,
        account: Account | None,
        login: str,
        ip: str,
    ) -> None:
        self.throttle = throttle
        self.reads = reads
        self.account_id = None if account is None else account.id
        # A login that names no account is counted under its text, so guessing at it is
        # held back exactly like guessing at an account.
        self.account_key = (
            f"id:{account.id}" if account is not None else f"login:{login.strip().casefold()}"
        )
        self.ip = ip
        self.ip_key = ip_group(ip)
        self._in_flight_ip = f"{IN_FLIGHT}:ip:{self.ip_key}"
        self._in_flight_account = f"{IN_FLIGHT}:account:{self.account_key}"
        self._holding = False

    async def admit(self) -> None:
        """Raise RateLimited if this attempt may not check a password; otherwise count it
        and hold its places in flight until `done`."""
        from_ip = await self.throttle.peek(IP, self.ip_key)
        if not from_ip.allowed:
            raise self.throttle.refusal(IP, from_ip)
        to_account = await self.throttle.peek(ACCOUNT, self.account_key)
        if not to_account.allowed and not await self._known_address():
            raise self.throttle.refusal(ACCOUNT, to_account)
        per_ip = self.throttle.in_flight_limit(IN_FLIGHT_IP, IN_FLIGHT_PER_ADDRESS)
        per_account = self.throttle.in_flight_limit(IN_FLIGHT_ACCOUNT, IN_FLIGHT_PER_ACCOUNT)
        if not self.throttle.enter((self._in_flight_ip,), per_ip):
            raise self._busy()
        if not self.throttle.enter((self._in_flight_account,), per_account):
            self.throttle.leave((self._in_flight_ip,))
            raise self._busy()
        self._holding = True
        try:
            await self.throttle.check(ACCOUNT_IP, self.account_key, self.ip_key)
        except BaseException:
            self.done()
            raise

    def done(self) -> None:
        """Give back the places in flight `admit` took (safe to call more than once)."""
        if self._holding:
            self._holding = False
            self.throttle.leave((self._in_flight_ip, self._in_flight_account))

    def _busy(self) -> RateLimited:
        metrics.RATE_LIMITED.labels(IN_FLIGHT).inc()
        return RateLimited(IN_FLIGHT, 1, "Another log-in is being checked; try again in a second.")

    async def failed(self) -> None:
        """The password was wrong (or the login named no account)."""
        await self.throttle.hit(IP, self.ip_key)
        await self.throttle.hit(ACCOUNT, self.account_key)

    async def passed(self) -> None:
        """The password was right: this address's failures at this account are forgiven."""
        await self.throttle.clear(ACCOUNT_IP, self.account_key, self.ip_key)

    async def _known_address(self) -> bool:
        if self.account_id is None:
            return False
        async with self.reads() as session:
            return await logged_in_from(
                session, account_id=self.account_id, ip=self.ip, since=utcnow() - KNOWN_FOR
            )


async def logged_in_from(
    session: AsyncSession, *, account_id: int, ip: str, since: datetime
) -> bool:
    """Whether a session of the account was opened from `ip`'s group (IPv6 by /64) since
    `since`, among its latest sessions."""
    recent = await session.scalars(
        select(LoginSession.ip)
        .where(LoginSession.account_id == account_id, LoginSession.created_at >= since)
        .order_by(LoginSession.id.desc())
        .limit(KNOWN_SESSIONS_READ)
    )
    group = ip_group(ip)
    return any(address and ip_group(address) == group for address in recent)
