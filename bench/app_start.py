"""What making and starting one app costs: `create_app(settings)` and its lifespan (the
migration check, the catalogue, the dispatcher and sweeps), then its shutdown. The test suite
makes one app per test, so this is its floor per test; a server pays it once.

    .venv/bin/python bench/app_start.py [--apps 10] [--database-url URL --redis-url URL]

Without `--database-url`, a new SQLite file in a temporary directory, migrated first. Prints
the median wall and CPU milliseconds per app over `--apps`, after one warm-up app (which
builds the schema and loads the migration scripts: once per process).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import db
from app.main import create_app
from app.settings import Settings


async def start_and_stop(settings: Settings) -> None:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        pass


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", type=int, default=10)
    parser.add_argument("--database-url")
    parser.add_argument("--redis-url")
    args = parser.parse_args()
    url = args.database_url or f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.db"
    settings = Settings(
        env="test", database_url=url, redis_url=args.redis_url, embedded_worker=True
    )
    engine = db.create_engine(settings)
    try:
        await db.migrate(engine)
    finally:
        await engine.dispose()
    await start_and_stop(settings)  # warm-up: the schema, the migration scripts
    walls, cpus = [], []
    for _ in range(args.apps):
        wall, cpu = time.perf_counter(), time.process_time()
        await start_and_stop(settings)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    print(
        f"per app, median of {args.apps}: {statistics.median(walls) * 1000:.1f} ms wall, "
        f"{statistics.median(cpus) * 1000:.1f} ms CPU"
    )


if __name__ == "__main__":
    asyncio.run(main())
