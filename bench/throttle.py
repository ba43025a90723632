"""A GraphQL request's rate limits (models/throttle.py): the address's request rate and the
query budget, counted apart (`admit` + `check`: three Redis round trips) and together
(`admit_together` with two hits: one round trip).

    .venv/bin/python bench/throttle.py [--redis-url redis://127.0.0.1:6379/0] [--runs 2000]

Prints this process's CPU microseconds per request (median of 5 rounds: CPU time, steadier
than wall time on a shared machine) and the wall microseconds beside it. Keys are under a
prefix of their own, removed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.throttle import Hit, Throttle

RULES = {"requests.ip": "1000000000/minute", "budget.user": "1000000000/hour"}
COST = 12


async def rounds(call: Callable[[int], Awaitable[object]], runs: int) -> tuple[float, float]:
    cpu, wall = [], []
    for _ in range(5):
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        for i in range(runs):
            await call(i)
        cpu.append((time.process_time() - started_cpu) / runs * 1e6)
        wall.append((time.perf_counter() - started_wall) / runs * 1e6)
    return statistics.median(cpu), statistics.median(wall)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--runs", type=int, default=2000)
    options = parser.parse_args()
    prefix = f"chirp-throttle-bench-{uuid.uuid4().hex[:8]}"
    throttle = Throttle(RULES, redis_url=options.redis_url, prefix=prefix)

    async def apart(i: int) -> None:
        await throttle.admit("requests.ip", f"10.0.{i % 50}.1")
        await throttle.check("budget.user", f"account:{i % 50}", cost=COST)

    async def together(i: int) -> None:
        await throttle.admit_together(
            [
                Hit("requests.ip", (f"10.0.{i % 50}.1",)),
                Hit("budget.user", (f"account:{i % 50}",), COST),
            ]
        )

    await apart(0)  # connect and load the scripts before timing
    await together(0)
    for name, call in (("admit + check", apart), ("admit_together(2 hits)", together)):
        cpu, wall = await rounds(call, options.runs)
        print(f"{name:24} {cpu:7.1f} µs CPU/request {wall:7.1f} µs wall/request")
    if throttle._storage is not None:
        await throttle._storage.reset()
    await throttle.aclose()


if __name__ == "__main__":
    asyncio.run(main())
