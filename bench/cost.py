"""The static cost model's price per request (schema/core/cost.py), and how fast an over-cost
operation is refused.

    .venv/bin/python bench/cost.py [--redis-url redis://127.0.0.1:6379/15]   # in process
    .venv/bin/python bench/cost.py --url http://127.0.0.1:8000/graphql [--token T]

Without `--url`: times `CostModel.analyse` (variables coerced, arguments checked, cost
computed) on bench/load.py's home-timeline page and on the issue-11 attack, over `--runs`
calls each, then the charge of a page's cost to an anonymous budget (`resolvers/budget.py`,
in memory and, with `--redis-url`, in Redis), and prints this process's CPU microseconds per
call (median of 5 rounds: CPU time, steadier than wall time on a shared machine).

With `--url`: posts the attack (and its three-alias form) `--runs` times to a running server
and prints the status, the error code and the median and 95th-percentile wall milliseconds
per refusal.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from graphql import parse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load import HOME_QUERY  # noqa: E402

from app.schema import build_schema  # noqa: E402
from app.settings import DEFAULT_RATE_LIMITS  # noqa: E402
from models.throttle import Throttle  # noqa: E402
from resolvers import budget  # noqa: E402
from schema.core.cost import CostModel  # noqa: E402

NESTED = "publicFeed(first:100) { edges { node { author { followers(first:100) { edges { node { posts(first:100) { edges { node { id } } } } } } } } } }"  # noqa: E501
ATTACK = "{ " + NESTED + " }"
ATTACK_ALIASED = "{ " + " ".join(f"{alias}: {NESTED}" for alias in "abc") + " }"
ROUNDS = 5


def micro(runs: int) -> None:
    model = CostModel(build_schema()._schema)
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("home timeline, first: 20", HOME_QUERY, {"first": 20}),
        ("home timeline, first: 20, after", HOME_QUERY, {"first": 20, "after": "YzE6MTAwMA=="}),
        ("attack", ATTACK, {}),
        ("attack, three aliases", ATTACK_ALIASED, {}),
    ]
    for name, text, variables in cases:
        document = parse(text)  # parsed once, as the parser cache does
        rounds = []
        for _ in range(ROUNDS):
            started = time.process_time()
            for _ in range(runs):
                analysis = model.analyse(document, None, variables)
            rounds.append((time.process_time() - started) / runs * 1e6)
        assert analysis is not None and not analysis.errors
        print(f"{name:36} cost {analysis.cost:>9,}  {statistics.median(rounds):7.1f} µs CPU/call")


async def charges(runs: int, redis_url: str | None) -> None:
    for where, url in (("memory", None), ("redis", redis_url)):
        if where == "redis" and url is None:
            continue
        throttle = Throttle(DEFAULT_RATE_LIMITS, redis_url=url, prefix="chirp-bench-cost")
        plans = budget.PlanBudgets()
        rounds = []
        for n in range(ROUNDS):
            started = time.process_time()
            for i in range(runs):
                await budget.charge(
                    throttle=throttle,
                    plans=plans,
                    sessionmaker=None,  # type: ignore[arg-type]  # anonymous: no plan read
                    account_id=None,
                    ip_group=f"198.51.{n}.{i % 250}",
                    cost=41,
                    max_cost=10_000,
                )
            rounds.append((time.process_time() - started) / runs * 1e6)
        await throttle.aclose()
        name = f"budget charge, {where}"
        print(f"{name:36} cost        41  {statistics.median(rounds):7.1f} µs CPU/call")


def refusals(url: str, token: str | None, runs: int) -> None:
    headers = {"accept": "application/graphql-response+json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    with httpx.Client(timeout=30) as client:
        for name, text in (("attack", ATTACK), ("attack, three aliases", ATTACK_ALIASED)):
            times, statuses, codes = [], set(), set()
            for _ in range(runs):
                started = time.perf_counter()
                response = client.post(url, json={"query": text}, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                statuses.add(response.status_code)
                codes.update(e["extensions"]["code"] for e in response.json()["errors"])
            times.sort()
            p95 = times[max(0, int(len(times) * 0.95) - 1)]
            print(
                f"{name:24} status {sorted(statuses)} {sorted(codes)}  "
                f"median {statistics.median(times):.2f} ms  p95 {p95:.2f} ms  ({runs} requests)"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--url", help="a running server's /graphql: time refusals over HTTP")
    parser.add_argument("--token", help="a session token, to refuse a signed-in client")
    parser.add_argument("--redis-url", help="also time budget charges counted in this Redis")
    args = parser.parse_args()
    if args.url:
        refusals(args.url, args.token, args.runs)
    else:
        micro(args.runs)
        asyncio.run(charges(args.runs, args.redis_url))


if __name__ == "__main__":
    main()
