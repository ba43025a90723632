"""SQL statements per page for bench/compare.py, from PostgreSQL's own log: the lines that
`log_statement = 'all'` writes for one server's backends, found through its sockets (`ss`
gives the server's local ports to 5432, pg_stat_activity the backends behind them). Not run on
its own.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import asyncpg

# log_line_prefix '%m [%p] %q%u@%d ': "2026-12-07 05:00:17.917 UTC [2244] postgres@db LOG:  ..."
STATEMENT = re.compile(
    r"^\S+ \S+ \S+ \[(\d+)\] \S*@\S* LOG:  (?:statement|execute [^:]*):\s*(\w*)", re.MULTILINE
)
TRANSACTION = {"BEGIN", "START", "COMMIT", "END", "ROLLBACK"}
COMPILED = "chirp-compiled"  # app/compiled.py's connections


@dataclass(frozen=True)
class StatementCount:
    pages: int
    busy: Counter[str]  # first keyword -> lines while the pages were served
    idle: Counter[str]  # ... during as long again with nothing to serve
    # Lines of the connections named `chirp-compiled` (Chirp's compiled reads), while busy:
    # the rest of Chirp's lines are its background work (sweeps, the dispatcher) and budget
    # lookups, which an idle window of the same length does not always catch.
    compiled: Counter[str] | None = None

    @property
    def per_page(self) -> float:
        return (sum(self.busy.values()) - sum(self.idle.values())) / self.pages

    @property
    def transaction_per_page(self) -> float:
        busy = sum(n for k, n in self.busy.items() if k in TRANSACTION)
        idle = sum(n for k, n in self.idle.items() if k in TRANSACTION)
        return (busy - idle) / self.pages

    def describe(self) -> str:
        kinds = ", ".join(f"{k} {n / self.pages:.2f}" for k, n in self.busy.most_common())
        idle = sum(self.idle.values())
        text = f"{kinds or 'none'}; {idle} statements while idle (subtracted)"
        if self.compiled is not None:
            mine = ", ".join(f"{k} {n / self.pages:.2f}" for k, n in self.compiled.most_common())
            text += f"; on its compiled-read connections: {mine or 'none'}"
        return text


def log_path(given: str | None) -> Path:
    if given:
        return Path(given)
    found = sorted(Path("/var/log/postgresql").glob("postgresql-*-main.log"))
    if not found:
        raise SystemExit("no PostgreSQL log under /var/log/postgresql: pass --postgres-log")
    return found[-1]


def _descendants(pid: int) -> set[int]:
    found, todo = {pid}, [pid]
    while todo:
        for task in Path(f"/proc/{todo.pop()}/task").glob("*/children"):
            for child in task.read_text().split():
                if int(child) not in found:
                    found.add(int(child))
                    todo.append(int(child))
    return found


def _local_ports(pids: set[int], server_port: int) -> list[int]:
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( dport = :{server_port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    ports = []
    for line in out.splitlines():
        owners = {int(p) for p in re.findall(r"pid=(\d+)", line)}
        if owners & pids:
            ports.append(int(line.split()[2].rsplit(":", 1)[1]))
    return ports


async def server_backends(dsn: str, pid: int) -> dict[int, str]:
    """The backend pids of the connections that a server process (or its children) holds,
    with their application names."""
    conn = await asyncpg.connect(dsn)
    try:
        port = int(await conn.fetchval("SHOW port"))
        rows = await conn.fetch(
            "SELECT pid, application_name FROM pg_stat_activity "
            "WHERE datname = current_database() AND client_port = ANY($1::int[])",
            _local_ports(_descendants(pid), port),
        )
    finally:
        await conn.close()
    return {r["pid"]: r["application_name"] for r in rows}


def count_statements(
    log: Path, start: int, busy_end: int, backends: dict[int, str], pages: int
) -> StatementCount:
    with log.open("rb") as f:
        f.seek(start)
        text = f.read().decode("latin-1")  # one character per byte: offsets agree
    split = busy_end - start
    busy: Counter[str] = Counter()
    idle: Counter[str] = Counter()
    compiled: Counter[str] = Counter()
    for match in STATEMENT.finditer(text):
        backend = int(match[1])
        if backend in backends:
            kind = match[2].rstrip(";").upper() or "?"
            (busy if match.start() < split else idle)[kind] += 1
            if match.start() < split and backends[backend] == COMPILED:
                compiled[kind] += 1
    named = COMPILED in backends.values()
    return StatementCount(pages, busy, idle, compiled if named else None)
