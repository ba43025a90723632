"""Real processes for integration tests: `chirp serve` (uvicorn) and private redis-servers.

Each process writes its stdout and stderr to a log file. `running` starts and stops them
and prints those logs when a test that used them failed, so a red test shows what the
server said.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn

from app import db
from app.settings import Settings
from tests.support.backends import Database
from tests.support.graphql import GraphQLClient
from tests.support.limits import RELAXED_RATE_LIMIT_ENV

ROOT = Path(__file__).resolve().parents[2]
REDIS_SERVER = "/usr/bin/redis-server"
PG_BIN_INITDB = [shutil.which("initdb") or "initdb"]
PG_POSTGRES = shutil.which("postgres") or "postgres"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
HTTP_TIMEOUT = 10.0
LOG_TAIL = 200  # lines of a process log shown on failure

# Variables the server reads; the parent's values must not leak into a test server.
_SERVER_VARIABLES = (
    "CHIRP_ENV",
    "DATABASE_URL",
    "REDIS_URL",
    "REDIS_PREFIX",
    "SECRET_KEY",
    "HOST",
    "PORT",
    "CORS_ORIGINS",
    "SESSION_TTL_DAYS",
    "ARGON2_TIME_COST",
    "ARGON2_MEMORY_COST",
    "GRAPHQL_MAX_DEPTH",
    "GRAPHQL_MAX_ALIASES",
    "GRAPHQL_MAX_TOKENS",
    "WS_QUEUE_SIZE",
    "DISPATCH_INTERVAL",
    "DB_POOL_SIZE",
    "EMBEDDED_WORKER",
    "WEBHOOK_TIMEOUT",
    "WEBHOOK_RETRY_BASE",
    "WEBHOOK_RETRY_MAX",
    "WEBHOOK_MAX_ATTEMPTS",
    "WEBHOOK_DISABLE_AFTER",
    "WEBHOOK_FAILING_PERIOD",
    "WEBHOOK_SWEEP_INTERVAL",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "METRICS_TOKEN",
    "TRACES_EXPORTER",
    "TRACES_SAMPLE_RATIO",
    "SLOW_OPERATION_MS",
    "DRAIN_SECONDS",
    "WORKER_METRICS_PORT",
    "TRUSTED_PROXIES",
    "MAX_BODY_BYTES",
    "MAX_WEBHOOK_BODY_BYTES",
    "MAX_QUERY_STRING_BYTES",
    "GRAPHQL_MAX_QUERY_LENGTH",
    "WS_MAX_MESSAGE_BYTES",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def migrate(database: Database) -> None:
    """Bring a fresh database to the migration head, as `chirp migrate` does."""
    engine = db.create_engine(Settings(env="test", database_url=database.url))
    try:
        await db.migrate(engine)
    finally:
        await engine.dispose()


class _Process:
    """A child process whose stdout and stderr go to `log_path`."""

    def __init__(self, name: str, log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _spawn(
        self, argv: list[str], env: Mapping[str, str] | None = None, user: str | None = None
    ) -> None:
        assert self._proc is None, f"{self.name} is already running"
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                argv,
                cwd=ROOT,
                env=None if env is None else dict(env),
                user=user,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C on pytest does not reach it first
            )

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_since(self, offset: int) -> str:
        """Everything the process wrote after `offset` (a `log_size()` taken earlier)."""
        with self.log_path.open("rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def log_text(self) -> str:
        if not self.log_path.exists():
            return "(no output)"
        lines = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(lines[-LOG_TAIL:])

    def _fail(self, message: str) -> None:
        pytest.fail(f"{message} (its output: {self.log_path})")

    async def start(self) -> None:
        raise NotImplementedError

    async def _wait_exit(self, within: float) -> bool:
        proc = self._proc
        assert proc is not None
        deadline = time.monotonic() + within
        while proc.poll() is None:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    def send_signal(self, sig: int) -> None:
        assert self._proc is not None, f"{self.name} is not running"
        self._proc.send_signal(sig)

    async def wait_exit(self, within: float) -> bool:
        """True once the process has exited (within `within` seconds)."""
        return await self._wait_exit(within)

    async def terminate(self) -> None:
        """SIGTERM, then SIGKILL if it has not exited within STOP_TIMEOUT."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            if not await self._wait_exit(STOP_TIMEOUT):
                self._proc.kill()
                await self._wait_exit(STOP_TIMEOUT)
        self._proc.wait(timeout=0)  # reaps it; it has exited
        self._proc = None

    async def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up."""
        if self._proc is None:
            return
        self._proc.kill()
        await self._wait_exit(STOP_TIMEOUT)
        self._proc.wait(timeout=0)
        self._proc = None


class ChirpServer(_Process):
    """`chirp serve` on a free port of 127.0.0.1, configured for tests."""

    def __init__(
        self,
        name: str,
        database: Database,
        log_dir: Path,
        *,
        redis_url: str | None,
        redis_prefix: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(name, log_dir / f"{name}.log")
        self.database = database
        self.redis_url = redis_url
        self.redis_prefix = redis_prefix or f"chirp-it-{uuid.uuid4().hex[:8]}"
        self.extra_env = dict(env or {})
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/graphql"

    def environment(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in _SERVER_VARIABLES
            and not k.startswith(("STRIPE_", "SMTP_", "BILLING_", "RATE_LIMIT_"))
        }
        env.update(
            CHIRP_ENV="test",
            # Nothing listens on port 1: a test server never reaches a developer's localstripe.
            STRIPE_API_BASE="http://127.0.0.1:1",
            DATABASE_URL=self.database.url,
            REDIS_PREFIX=self.redis_prefix,
            ARGON2_TIME_COST="1",
            ARGON2_MEMORY_COST="1024",
            DISPATCH_INTERVAL="0.05",
            # A job the queue lost (a killed worker, an emptied Redis) is back within seconds.
            JOB_RECLAIM_SECONDS="5",
            JOB_SWEEP_INTERVAL="0.5",
            EMBEDDED_WORKER="1",
            CORS_ORIGINS="https://app.example.com",
            PYTHONUNBUFFERED="1",
            **RELAXED_RATE_LIMIT_ENV,
        )
        if self.redis_url is not None:
            env["REDIS_URL"] = self.redis_url
        env.update(self.extra_env)
        return env

    @contextlib.asynccontextmanager
    async def graphql(self) -> AsyncIterator[GraphQLClient]:
        """A GraphQL-over-HTTP client for this server."""
        async with httpx.AsyncClient(base_url=self.url, timeout=HTTP_TIMEOUT) as http:
            yield GraphQLClient(http)

    async def start(self) -> None:
        argv = [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port)]
        self._spawn(argv, self.environment())
        await self.wait_ready()

    async def wait_ready(self, within: float = START_TIMEOUT) -> None:
        """Until GET /readyz answers 200; fails if the process exits or takes too long."""
        deadline = time.monotonic() + within
        last = "no answer"
        async with httpx.AsyncClient(base_url=self.url, timeout=2.0) as http:
            while True:
                if not self.running:
                    self._fail(f"{self.name} exited before it was ready")
                try:
                    response = await http.get("/readyz")
                except httpx.TransportError as exc:
                    last = repr(exc)
                else:
                    if response.status_code == 200:
                        return
                    last = f"{response.status_code} {response.text}"
                if time.monotonic() > deadline:
                    self._fail(f"{self.name} not ready within {within:.0f}s (last: {last})")
                await asyncio.sleep(0.05)


class ChirpWorker(ChirpServer):
    """`chirp worker` (Redis required): consumes the job queue and runs the sweeps. Ready once
    its own metrics endpoint (WORKER_METRICS_PORT) answers."""

    def environment(self) -> dict[str, str]:
        env = super().environment()
        env.update(EMBEDDED_WORKER="0", WORKER_METRICS_PORT=str(self.port))
        return env

    async def start(self) -> None:
        self._spawn([sys.executable, "-m", "app.cli", "worker"], self.environment())
        deadline = time.monotonic() + START_TIMEOUT
        async with httpx.AsyncClient(base_url=self.url, timeout=2.0) as http:
            while True:
                if not self.running:
                    self._fail(f"{self.name} exited before it was ready")
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/metrics")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    self._fail(f"{self.name} did not serve its metrics within {START_TIMEOUT}s")
                await asyncio.sleep(0.05)


class RedisServer(_Process):
    """A private redis-server on a free port that a test may kill and restart on that port.
    It never touches the machine's own Redis on 6379."""

    def __init__(self, directory: Path, name: str = "redis") -> None:
        super().__init__(name, directory / f"{name}.log")
        self.directory = directory
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    async def start(self, within: float = 10.0) -> None:
        argv = [
            REDIS_SERVER,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.directory),
        ]  # fmt: skip
        self._spawn(argv)
        deadline = time.monotonic() + within
        while not await self._answers_ping():
            if not self.running or time.monotonic() > deadline:
                await self.kill()
                self._fail(f"{self.name} did not answer PING on port {self.port}")
            await asyncio.sleep(0.02)

    def freeze(self) -> None:
        """SIGSTOP: the server keeps its sockets open but answers nothing."""
        assert self._proc is not None
        self._proc.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self._proc is not None
        self._proc.send_signal(signal.SIGCONT)

    async def _answers_ping(self) -> bool:
        try:
            async with asyncio.timeout(0.5):
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                try:
                    writer.write(b"PING\r\n")
                    await writer.drain()
                    return (await reader.readline()).startswith(b"+PONG")
                finally:
                    writer.close()
                    with contextlib.suppress(OSError):
                        await writer.wait_closed()
        except (OSError, TimeoutError):
            return False


class PostgresServer(_Process):
    """A private PostgreSQL cluster (initdb) on a free port, that a test may stop and start
    again; never the machine's own on 5432. As root, the server runs as `postgres`."""

    def __init__(self, directory: Path, name: str = "postgres") -> None:
        super().__init__(name, directory / f"{name}.log")
        # Not under pytest's own temporary directory, which only root may enter.
        self.home = Path(tempfile.mkdtemp(prefix="chirp-pg-"))
        self.data = self.home / "data"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    async def create(self) -> None:
        """initdb: a new cluster with trust authentication for `postgres`."""
        self.data.mkdir(mode=0o700)
        if self.user is not None:
            shutil.chown(self.home, self.user, self.user)
            shutil.chown(self.data, self.user, self.user)
        argv = [*PG_BIN_INITDB, "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"]
        done = await asyncio.to_thread(
            subprocess.run, argv, capture_output=True, user=self.user, check=False
        )
        if done.returncode != 0:
            pytest.fail(f"initdb failed: {done.stderr.decode(errors='replace')}")

    async def start(self, within: float = 20.0) -> None:
        argv = [
            PG_POSTGRES, "-D", str(self.data), "-p", str(self.port), "-k", str(self.data),
            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
            "-c", "full_page_writes=off", "-c", "max_connections=50",
        ]  # fmt: skip
        self._spawn(argv, user=self.user)
        deadline = time.monotonic() + within
        while not await self._answers():
            if not self.running or time.monotonic() > deadline:
                await self.kill()
                self._fail(f"{self.name} did not accept connections on port {self.port}")
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """A fast shutdown (SIGINT): clients are disconnected, nothing committed is lost."""
        if self._proc is None:
            return
        self._proc.send_signal(signal.SIGINT)
        if not await self._wait_exit(STOP_TIMEOUT):
            self._proc.kill()
            await self._wait_exit(STOP_TIMEOUT)
        self._proc.wait(timeout=0)
        self._proc = None

    async def remove(self) -> None:
        await self.stop()
        shutil.rmtree(self.home, ignore_errors=True)

    async def _answers(self) -> bool:
        try:
            conn = await asyncpg.connect(
                host="127.0.0.1", port=self.port, user="postgres", database="postgres", timeout=1
            )
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        await conn.close()
        return True


async def private_database(
    postgres: PostgresServer, name: str, *, redis_url: str | None = None
) -> Database:
    """A new database `name` on a private cluster, migrated to the head."""
    conn = await asyncpg.connect(host="127.0.0.1", port=postgres.port, user="postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    database = Database("postgres", postgres.url(name), redis_url, name)
    await migrate(database)
    return database


@contextlib.asynccontextmanager
async def serving(app: Any, port: int, **config: Any) -> AsyncIterator[uvicorn.Server]:
    """`app` served by uvicorn in this process on 127.0.0.1:`port` (no lifespan), until the
    block ends."""
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", **config
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield server
    finally:
        server.should_exit = True
        await task


def show_logs(config: pytest.Config, processes: Iterable[_Process], why: str) -> None:
    """Print process logs past pytest's output capture, so they show whatever the phase."""
    text = "".join(f"\n--- {p.name} log ({p.log_path}) ---\n{p.log_text()}\n" for p in processes)
    capture = config.pluginmanager.getplugin("capturemanager")
    reporter = config.pluginmanager.getplugin("terminalreporter")
    if capture is None or reporter is None:
        print(f"{why}{text}")
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line("")
        reporter.write_sep("-", why)
        reporter.write_line(text)


@contextlib.asynccontextmanager
async def running(request: pytest.FixtureRequest, *processes: _Process) -> AsyncIterator[None]:
    """Start the processes in order and stop them in reverse. Their logs are printed if a
    test failed meanwhile (for a module fixture: any test of the module) or the block raised.
    A process the test stopped itself is fine."""
    failed_before = request.session.testsfailed
    why = f"logs of the processes of {request.node.name}"
    try:
        for process in processes:
            await process.start()
        yield
    except BaseException:
        show_logs(request.config, processes, why)
        raise
    finally:
        for process in reversed(processes):
            await process.terminate()
    if request.session.testsfailed > failed_before:
        show_logs(request.config, processes, why)
