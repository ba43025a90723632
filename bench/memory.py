"""Memory per idle subscription of a running `chirp serve`.

Starts `chirp serve` (embedded SQLite by default, or --database-url for PostgreSQL, which must
be migrated), opens a few warm-up subscriptions, reads the server's VmRSS from
/proc/<pid>/status, opens N more idle `graphql-transport-ws` subscriptions to `publicFeed`
(websockets client: connection_init, connection_ack, subscribe), lets the server settle and
reads VmRSS again; reports (delta / N) in KiB. --per-connection puts several subscriptions
on each WebSocket to separate the cost of a connection from that of a subscription.
Afterwards one post is published to check that every subscription is live.

    .venv/bin/python bench/memory.py --subscriptions 500
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from load import production_env, stop_process  # bench/load.py
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL = Subprotocol("graphql-transport-ws")
SUBSCRIPTION = "subscription Live { publicFeed { cursor post { id body author { handle } } } }"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


# What `chirp serve` runs (app/cli.py), with the WebSocket options this script may vary to
# compare them; only used with --ws-impl / --no-server-deflate. `--ws-impl websockets` (deflate
# on) is how `chirp serve` ran before 91e23f4; it now runs websockets-sansio, deflate off.
VARIANT = """
import sys, uvicorn
from app.main import create_app
from app.settings import Settings
uvicorn.run(create_app(Settings.from_env()), host="127.0.0.1", port=int(sys.argv[1]),
            proxy_headers=True, ws=sys.argv[2], ws_per_message_deflate=sys.argv[3] == "on",
            timeout_graceful_shutdown=20, log_level="info")
"""


@contextlib.contextmanager
def chirp_server(
    database_url: str | None, port: int, variant: tuple[str, str] | None = None
) -> Iterator[int]:
    with tempfile.TemporaryDirectory(prefix="chirp-bench-mem-") as tmp:
        url = database_url or f"sqlite:///{tmp}/chirp.db"
        env = production_env(
            url,
            # Every socket comes from this one address.
            RATE_LIMIT_WS_CONNECT_IP="1000000/minute",
            WS_MAX_OPEN_PER_ADDRESS="1000000",
        )
        chirp = [sys.executable, "-m", "app.cli"]  # this checkout's code (cwd=ROOT)
        if database_url is None:
            subprocess.run([*chirp, "migrate"], env=env, cwd=ROOT, check=True)
        with (Path(tmp) / "serve.log").open("wb") as out:
            command = [*chirp, "serve", "--port", str(port)]
            if variant is not None:
                command = [sys.executable, "-c", VARIANT, str(port), *variant]
            process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=out)
            try:
                deadline = time.monotonic() + 30
                while True:
                    try:
                        if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).is_success:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise SystemExit((Path(tmp) / "serve.log").read_text()[-2000:])
                    time.sleep(0.2)
                yield process.pid
            finally:
                stop_process(process)


COMPRESSION: dict[str, str | None] = {"compression": "deflate"}


async def open_connection(url: str, subscriptions: int, first_id: int) -> ClientConnection:
    # Browsers offer permessage-deflate, and so does the websockets client by default.
    ws = await connect(
        url,
        subprotocols=[PROTOCOL],
        max_queue=16,
        open_timeout=30,
        compression=COMPRESSION["compression"],
    )
    await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
    ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
    if ack.get("type") != "connection_ack":
        raise RuntimeError(f"no connection_ack: {ack}")
    for i in range(subscriptions):
        await ws.send(
            json.dumps(
                {
                    "id": str(first_id + i),
                    "type": "subscribe",
                    "payload": {"query": SUBSCRIPTION, "operationName": "Live"},
                }
            )
        )
    return ws


async def open_many(url: str, total: int, per_connection: int, batch: int) -> list[Any]:
    connections: list[ClientConnection] = []
    opened = 0
    while opened < total:
        sizes = []
        while opened < total and len(sizes) < batch:
            sizes.append(min(per_connection, total - opened))
            opened += sizes[-1]
        connections.extend(await asyncio.gather(*(open_connection(url, n, 1) for n in sizes)))
    return connections


async def settle(pid: int, seconds: float) -> int:
    """Wait, then the lowest of a few RSS readings (a reading can catch a transient peak)."""
    await asyncio.sleep(seconds)
    readings = []
    for _ in range(5):
        readings.append(rss_kib(pid))
        await asyncio.sleep(0.2)
    return min(readings)


async def publish_one(port: int) -> None:
    base = f"http://127.0.0.1:{port}/graphql"
    handle = "bench_" + secrets.token_hex(4)
    async with httpx.AsyncClient(timeout=60) as client:
        signed = await client.post(
            base,
            json={
                "query": "mutation S($i: SignUpInput!) { signUp(input: $i) { "
                "... on SessionPayload { token } } }",
                "variables": {
                    "i": {
                        "handle": handle,
                        "email": f"{handle}@bench.example",
                        "password": secrets.token_urlsafe(16),
                    }
                },
            },
        )
        token = signed.json()["data"]["signUp"]["token"]
        await client.post(
            base,
            headers={"authorization": f"Bearer {token}"},
            json={
                "query": 'mutation P { createPost(input: {body: "memory check"}) { __typename } }'
            },
        )


async def count_live(connections: list[ClientConnection], port: int) -> int:
    await publish_one(port)

    async def got_next(ws: ClientConnection) -> int:
        seen = 0
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(15):
                while True:
                    message = json.loads(await ws.recv())
                    if message.get("type") == "next":
                        seen += 1
                        if seen == subscriptions_on.get(id(ws), 1):
                            break
        return seen

    return sum(await asyncio.gather(*(got_next(ws) for ws in connections)))


subscriptions_on: dict[int, int] = {}


async def measure(args: argparse.Namespace, pid: int, port: int) -> None:
    url = f"ws://127.0.0.1:{port}/graphql"
    baseline_fresh = rss_kib(pid)
    warm = await open_many(url, args.warmup, args.per_connection, args.batch)
    before = await settle(pid, args.settle)
    started = time.perf_counter()
    connections = await open_many(url, args.subscriptions, args.per_connection, args.batch)
    opened_in = time.perf_counter() - started
    after = await settle(pid, args.settle)
    n = args.subscriptions
    print(
        f"chirp serve pid {pid}: RSS {baseline_fresh / 1024:.1f} MiB fresh, "
        f"{before / 1024:.1f} MiB after {args.warmup} warm-up subscriptions"
    )
    print(
        f"opened {n} idle publicFeed subscriptions on {len(connections)} connections "
        f"({args.per_connection} per connection, permessage-deflate "
        f"{'off' if COMPRESSION['compression'] is None else 'offered'}) in {opened_in:.1f}s"
    )
    print(
        f"RSS {before / 1024:.1f} MiB -> {after / 1024:.1f} MiB: "
        f"delta {(after - before) / 1024:.1f} MiB = {(after - before) / n:.1f} KiB per subscription"
    )
    if not args.no_verify:
        for ws in [*warm, *connections]:
            subscriptions_on[id(ws)] = args.per_connection
        live = await count_live(connections, port)
        print(f"check: {live} of {n} subscriptions received the post published afterwards")
    for ws in [*warm, *connections]:
        with contextlib.suppress(Exception):
            await ws.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscriptions", type=int, default=500)
    parser.add_argument(
        "--per-connection", type=int, default=1, help="at most 20 (the server's cap)"
    )
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--batch", type=int, default=50, help="connections opened at once")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds before reading RSS")
    parser.add_argument("--port", type=int, default=8010)
    parser.add_argument("--database-url", help="default: a fresh embedded SQLite database")
    parser.add_argument("--no-verify", action="store_true")
    parser.add_argument(
        "--no-compression",
        action="store_true",
        help="do not offer permessage-deflate (what a server that refuses it would cost)",
    )
    parser.add_argument(
        "--ws-impl",
        choices=["websockets", "websockets-sansio", "wsproto"],
        help="serve through a variant launcher with this uvicorn WebSocket implementation and "
        "permessage-deflate on (unless --no-server-deflate) instead of `chirp serve`",
    )
    parser.add_argument(
        "--no-server-deflate",
        action="store_true",
        help="with --ws-impl: ws_per_message_deflate=False (what `chirp serve` now sets)",
    )
    args = parser.parse_args()
    if args.no_compression:
        COMPRESSION["compression"] = None
    variant = None
    if args.ws_impl or args.no_server_deflate:
        variant = (args.ws_impl or "websockets", "off" if args.no_server_deflate else "on")
        print(f"variant server: uvicorn ws={variant[0]}, ws_per_message_deflate={variant[1]}")
    with chirp_server(args.database_url, args.port, variant) as pid:
        asyncio.run(measure(args, pid, args.port))


if __name__ == "__main__":
    main()
