"""Running the real `chirp` command against a test database, as an operator would."""

from __future__ import annotations

import os
import subprocess
import sys


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`chirp ARGS` in a fresh process with the machine's environment plus `env`, no Redis."""
    environment = {**os.environ, **env}
    environment.pop("REDIS_URL", None)
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
