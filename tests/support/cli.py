"""Running the real `chirp` command against a test database, as an operator would."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys


def _environment(env: dict[str, str]) -> dict[str, str]:
    environment = {**os.environ, **env}
    environment.pop("REDIS_URL", None)
    return environment


async def run_cli_async(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`run_cli` without blocking the event loop: use it while a test's app is running, so
    the app's background work (the dispatcher, the sweeps) is not frozen mid-transaction,
    holding SQLite's write lock, while the command waits for that lock."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        *args,
        env=_environment(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return subprocess.CompletedProcess(list(args), process.returncode, out.decode(), err.decode())


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`chirp ARGS` in a fresh process with the machine's environment plus `env`, no Redis."""
    environment = _environment(env)
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def chirp(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`chirp ARGS` in a fresh process on `database_url` (no Redis, cheap hashing)."""
    return run_cli(
        *args,
        DATABASE_URL=database_url,
        CHIRP_ENV="test",
        ARGON2_TIME_COST="1",
        ARGON2_MEMORY_COST="1024",
    )


def tampered_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("TAMPERED")]
