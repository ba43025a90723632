"""CPU per home-timeline page inside one process: the whole ASGI app (middleware, bearer
authentication, GraphQL, loaders, SQLAlchemy, asyncpg) driven through httpx's ASGI transport,
no sockets and no uvicorn. It reads the process's own CPU time, so it is steadier than a
load test on a busy machine, and it runs any checkout's code: run it from that checkout.

    DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/chirp_bench CHIRP_ENV=production \
      SECRET_KEY=$(python3 -c 'import secrets; print(secrets.token_urlsafe(36))') \
      STRIPE_API_KEY=sk_test_bench STRIPE_WEBHOOK_SECRET=whsec_bench SMTP_HOST=127.0.0.1 \
      .venv/bin/python bench/inprocess.py --pages 1500

Mints 50 viewers' sessions as bench/load.py does, warms up with 300 pages, then asks for
`--pages` home pages of 20 posts, 16 at a time, and prints CPU and wall milliseconds per page.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from load import HOME_QUERY, mint_viewers, pg_dsn  # noqa: E402

from app.main import create_app  # noqa: E402
from app.settings import Settings  # noqa: E402

WARMUP = 300
CONCURRENCY = 16


async def measure(pages: int) -> tuple[float, float]:
    settings = Settings.from_env(dict(os.environ))
    viewers = await mint_viewers(pg_dsn(settings.database_url), 50, 1)
    body = {"query": HOME_QUERY, "operationName": "HomeTimeline", "variables": {"first": 20}}
    payload = json.dumps(body).encode()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        app.state.ready = True
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 5555))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            gate = asyncio.Semaphore(CONCURRENCY)

            async def page(i: int) -> None:
                viewer = viewers[i % len(viewers)]
                headers = {
                    "authorization": f"Bearer {viewer.token}",
                    "content-type": "application/json",
                }
                async with gate:
                    answer = await client.post("/graphql", content=payload, headers=headers)
                if answer.status_code != 200 or "errors" in answer.json():
                    raise SystemExit(f"a page failed: {answer.text[:300]}")

            await asyncio.gather(*(page(i) for i in range(WARMUP)))
            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.gather(*(page(i) for i in range(pages)))
            return time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1500)
    args = parser.parse_args()
    cpu, wall = asyncio.run(measure(args.pages))
    print(
        f"{ROOT.name}: {args.pages} pages, CPU {1000 * cpu / args.pages:.3f} ms/page, "
        f"wall {1000 * wall / args.pages:.3f} ms/page"
    )


if __name__ == "__main__":
    main()
