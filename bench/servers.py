"""The three servers of bench/compare.py: how each is started (on one core, from this checkout),
where it answers, and what it needs first (npm packages, the bench_pg schema). Not run on its
own.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from load import ROOT, chirp_command, local_only, pg_dsn, production_env, wait_for_port

PGL = ROOT / "bench/postgraphile"
SERVER_CORE = "0"
RAISED = "1000000000/minute"
BUDGETS = ("ANONYMOUS", "USER", "PLUS", "PRO")
LOGS = Path(tempfile.gettempdir())


def server_commands(
    args: argparse.Namespace, ports: dict[str, int], prefix: str
) -> dict[str, tuple[list[str], dict[str, str]]]:
    base = {**os.environ, "DATABASE_URL": args.database_url}
    chirp_env = production_env(
        args.database_url,
        PORT=str(ports["chirp"]),
        REDIS_URL=args.redis_url,
        REDIS_PREFIX=prefix,
        DRAIN_SECONDS="0",
        # Limits stay on (each request still costs its Redis round trips) but never bite.
        RATE_LIMIT_REQUESTS_IP=RAISED,
        **{f"RATE_LIMIT_BUDGET_{plan}": "1000000000000/hour" for plan in BUDGETS},
    )
    return {
        "raw": (
            [sys.executable, str(ROOT / "bench/raw.py"), "--port", str(ports["raw"])],
            base,
        ),
        "postgraphile": (
            [str(PGL / "node_modules/.bin/node"), str(PGL / "server.mjs")],
            {**base, "PORT": str(ports["postgraphile"]), "NODE_ENV": "production"},
        ),
        "chirp": ([*chirp_command(), "serve", "--port", str(ports["chirp"])], chirp_env),
    }


@contextmanager
def servers(
    args: argparse.Namespace, names: list[str], ports: dict[str, int], prefix: str
) -> Iterator[dict[str, int]]:
    """The named servers, started on core 0; their pids (None for an external Chirp)."""
    commands = server_commands(args, ports, prefix)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name in names:
            if name == "chirp" and args.chirp_url:
                continue
            command, env = commands[name]
            with (LOGS / f"chirp-compare-{name}.log").open("ab") as out:
                processes[name] = subprocess.Popen(
                    ["taskset", "-c", SERVER_CORE, *command],
                    env=env,
                    cwd=ROOT,
                    stdout=out,
                    stderr=out,
                )
        for name in processes:
            wait_for_port(ports[name], timeout=60)
        yield {name: p.pid for name, p in processes.items()}
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def base_url(name: str, args: argparse.Namespace, ports: dict[str, int]) -> str:
    if name == "chirp" and args.chirp_url:
        return local_only(args.chirp_url.removesuffix("/graphql").rstrip("/"))
    return f"http://127.0.0.1:{ports[name]}"


def prepare(args: argparse.Namespace, names: list[str]) -> None:
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    if "postgraphile" in names and not (PGL / "node_modules/.bin/node").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PGL, check=True)
    if "postgraphile" in names:
        schema = str(PGL / "schema.sql")
        subprocess.run(
            ["psql", pg_dsn(args.database_url), "-qv", "ON_ERROR_STOP=1", "-f", schema],
            check=True,
            env={**os.environ, "PGOPTIONS": "--client-min-messages=warning"},
        )


def forget_redis_keys(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()
