"""`wrk` for bench/compare.py: a Lua script that rotates the viewers' requests and counts
answers that are not a 200 without GraphQL errors, one run on a chosen core, its figures, and
a server's CPU time from /proc (also once it has served what was in flight). Not run on its
own.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from operations import Request

LUA = """
bad = 0
local requests = {}
local i = 0
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  for k, e in ipairs(entries) do
    requests[k] = wrk.format(e[1], e[2], e[3], e[4])
  end
end

function request()
  i = i % #requests + 1
  return requests[i]
end

function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do
    n = n + t:get("bad")
  end
  io.write(string.format("bad responses: %d\\n", n))
end
"""


def _lua_string(value: str) -> str:
    assert "]==]" not in value
    return f"[==[{value}]==]"


def write_script(requests: list[Request], path: Path) -> Path:
    entries = []
    for r in requests:
        headers = ", ".join(
            f"[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in r.headers.items()
        )
        body = _lua_string(r.body) if r.body else "nil"
        entries.append(
            f"  {{{_lua_string(r.method)}, {_lua_string(r.path)}, {{{headers}}}, {body}}}"
        )
    path.write_text("entries = {\n" + ",\n".join(entries) + "\n}\n" + LUA)
    return path


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rate: float
    p50_ms: float
    p99_ms: float
    bad: int
    socket_errors: str
    cpu_seconds: float | None = None
    served: int = 0  # requests the CPU time paid for: `requests` and those left in flight

    @property
    def cpu_ms_per_request(self) -> float | None:
        if self.cpu_seconds is None or not self.served:
            return None
        return self.cpu_seconds / self.served * 1000

    def describe(self) -> str:
        cpu = self.cpu_ms_per_request
        return (
            f"{self.rate:8.1f} req/s  p50 {self.p50_ms:6.1f} ms  p99 {self.p99_ms:6.1f} ms  "
            f"CPU {'-' if cpu is None else f'{cpu:.2f}'} ms/page  {self.requests} requests"
            + (f"  {self.bad} bad" if self.bad else "")
            + (f"  socket errors: {self.socket_errors}" if self.socket_errors else "")
        )


UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * UNITS[unit]


def run_wrk(base_url: str, script: Path, seconds: float, connections: int, core: str) -> WrkResult:
    command = ["taskset", "-c", core, "wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s"]
    command += ["--latency", "--timeout", "10s", "-s", str(script), base_url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    done = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", out)
    percentiles = dict(re.findall(r"^\s+(50|99)(?:\.0+)?%\s+(\S+)\s*$", out, re.MULTILINE))
    if done is None or len(percentiles) != 2:
        raise SystemExit(f"wrk said:\n{out}")
    errors = re.search(r"Socket errors: (.*)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    bad = int(re.search(r"bad responses: (\d+)", out)[1])  # type: ignore[index]
    return WrkResult(
        requests=int(done[1]),
        seconds=_ms(done[2] + done[3]) / 1000,
        rate=float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),  # type: ignore[index]
        p50_ms=_ms(percentiles["50"]),
        p99_ms=_ms(percentiles["99"]),
        bad=max(bad, int(non_2xx[1]) if non_2xx else 0),
        socket_errors=errors[1] if errors else "",
    )


def process_cpu(pid: int | None) -> float | None:
    """User + system CPU seconds of a process, its reaped children and its live ones."""
    if pid is None:
        return None
    total = 0.0
    todo = [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            todo.extend(int(c) for c in children.read_text().split())
    return total


def settled_cpu(pid: int | None, idle_share: float = 0.1, limit: float = 30.0) -> float | None:
    """The server's CPU seconds once it has finished what it was serving (it uses less than
    `idle_share` of a core over a quarter of a second), or after `limit` seconds."""
    deadline = time.monotonic() + limit
    last = process_cpu(pid)
    while last is not None and time.monotonic() < deadline:
        time.sleep(0.25)
        now = process_cpu(pid)
        if now is None or now - last < 0.25 * idle_share:
            return now
        last = now
    return last
