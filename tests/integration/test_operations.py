"""Operations against a real `chirp serve`: JSON logs with request and trace ids and no
secrets, the request id carried into jobs, the series in /metrics (every metric the alert
rules and the dashboard name), and readiness turning 503 while the server drains."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import eventually
from tests.support.accounts import CREATE_POST, follow, sign_up
from tests.support.backends import Database, available_backends, create_database, drop_database
from tests.support.servers import ChirpServer, RedisServer, free_port, migrate, running
from tests.support.wsclient import GraphQLWebSocket

pytestmark = pytest.mark.processes

ROOT = Path(__file__).resolve().parents[2]
METRICS_TOKEN = "integration-metrics-token-0123456789"
SIGN_UP = """
mutation SignUp($input: SignUpInput!) {
  signUp(input: $input) { __typename ... on SessionPayload { token } }
}
"""
LOG_IN = """
mutation LogIn($input: LogInInput!) {
  logIn(input: $input) { __typename ... on SessionPayload { token } ... on UserError { code } }
}
"""
BEGIN_TOTP = """
mutation Begin($password: String!) {
  beginTotpEnrolment(input: {password: $password}) { ... on TotpEnrolment { secret } }
}
"""
STATUS = "query Status { systemStatus { migration { atHead } } }"
PUBLIC_FEED = "subscription Feed { publicFeed { cursor } }"


@pytest.fixture(scope="module", params=available_backends())
async def database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Database]:
    database = await create_database(request.param, tmp_path_factory.mktemp("ops"))
    await migrate(database)
    yield database
    await drop_database(database)


@pytest.fixture(scope="module")
async def server(
    request: pytest.FixtureRequest, database: Database, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ChirpServer]:
    chirp = ChirpServer(
        "chirp-ops",
        database,
        tmp_path_factory.mktemp("ops-logs"),
        redis_url=database.redis_url,
        env={
            "LOG_FORMAT": "json",
            "TRACES_EXPORTER": "console",
            "METRICS_TOKEN": METRICS_TOKEN,
            "SLOW_OPERATION_MS": "0",  # every operation is "slow": the slow log is exercised
        },
    )
    async with running(request, chirp):
        yield chirp


async def _has(server: ChirpServer, offset: int, text: str) -> bool:
    return text in server.log_since(offset)


def log_records(text: str) -> list[dict[str, Any]]:
    """The JSON log lines (span output from the console exporter is multi-line, skipped)."""
    records = []
    for line in text.splitlines():
        if line.startswith('{"') and line.endswith("}"):
            records.append(json.loads(line))
    return records


async def wait_for_records(
    server: ChirpServer, offset: int, wanted: Callable[[dict[str, Any]], bool], count: int = 1
) -> list[dict[str, Any]]:
    """The log records after `offset` that match, once there are `count` (10 s at most)."""
    deadline = time.monotonic() + 10
    while True:
        found = [r for r in log_records(server.log_since(offset)) if wanted(r)]
        if len(found) >= count:
            return found
        assert time.monotonic() < deadline, f"{len(found)} of {count} log records"
        await asyncio.sleep(0.05)


async def test_logs_carry_ids_and_never_secrets(server: ChirpServer, tmp_path: Path) -> None:
    offset = server.log_size()
    secrets_sent: list[str] = []
    async with server.graphql() as gql:
        handle = f"secretive{int(time.time() * 1000) % 100000}"
        email = f"{handle}.private@example.org"
        password = "Tr0ub4dor&3-unforgettable"
        signed = await gql.http.post(
            "/graphql",
            json={
                "query": SIGN_UP,
                "variables": {"input": {"handle": handle, "email": email, "password": password}},
            },
        )
        token = signed.json()["data"]["signUp"]["token"]
        logged_in = await gql.execute(LOG_IN, {"input": {"login": email, "password": password}})
        wrong = "Not-the-password-42!"
        failed = await gql.execute(LOG_IN, {"input": {"login": handle, "password": wrong}})
        begun = await gql.execute(BEGIN_TOTP, {"password": password}, token=token)
        secret = begun["beginTotpEnrolment"]["secret"]
        await gql.post(STATUS, token=token)
        card = "4242 4242 4242 4242"
        await gql.post(CREATE_POST, {"input": {"body": f"card {card} to {email}"}}, token=token)
        secrets_sent = [password, wrong, email, token, secret, logged_in["logIn"]["token"], card]

    assert failed["logIn"]["code"]
    # The access line is written just after the response is sent.
    accesses = await wait_for_records(
        server, offset, lambda r: r.get("event") == "request" and r.get("path") == "/graphql", 6
    )
    text = server.log_since(offset)
    records = log_records(text)
    for value in secrets_sent:
        assert value not in text, f"a secret reached the log: {value[:4]}..."
    first = accesses[0]
    assert first["request_id"] == signed.headers["x-request-id"]
    assert first["operation"] == "SignUp" and first["operation_type"] == "mutation"
    assert first["status"] == 200 and first["duration_ms"] > 0 and first["statements"] > 0
    assert all(len(r["trace_id"]) == 32 and len(r["span_id"]) == 16 for r in accesses)
    denied = next(r for r in accesses if r["operation"] == "Status")
    assert denied["errors"] == ["FORBIDDEN"] and denied["account_id"] is not None
    slow = [r for r in records if r.get("event") == "slow operation"]
    assert {r["operation"] for r in slow} >= {"SignUp", "LogIn"}
    assert all("statements" in r and "sql_ms" in r for r in slow)
    spans = server.log_since(offset)
    assert '"name": "graphql mutation SignUp"' in spans and '"name": "db SELECT"' in spans
    if server.redis_url is not None:
        # The sign-up's outbox event is published after the response: its span comes later.
        await eventually(lambda: _has(server, offset, '"name": "redis publish"'))


async def test_the_request_id_reaches_the_jobs_it_causes(server: ChirpServer) -> None:
    async with server.graphql() as gql:
        author = await sign_up(gql, f"author{int(time.time() * 1000) % 100000}")
        reader = await sign_up(gql, f"reader{int(time.time() * 1000) % 100000}")
        await follow(gql, reader, author)
        offset = server.log_size()
        created = await gql.post(CREATE_POST, {"input": {"body": "to fan out"}}, token=author.token)
    request_id = created.headers["x-request-id"]

    # The server is shared: another test's fan-out may be logged after `offset` too, so the
    # job is looked for by the request id it must carry; the wait fails (after 10 s) when no
    # fan-out job with this request's id succeeded.
    await wait_for_records(
        server,
        offset,
        lambda r: (
            r.get("event") == "job"
            and r.get("job") == "chirp.fan_out_post"
            and r.get("request_id") == request_id
            and r.get("outcome") == "succeeded"
        ),
    )


def exported(text: str) -> set[str]:
    return {
        sample.name for family in text_string_to_metric_families(text) for sample in family.samples
    }


def named_in_rules_and_dashboard() -> set[str]:
    sources = (ROOT / "ops/prometheus/alerts.yml", ROOT / "ops/grafana/chirp.json")
    return {m for path in sources for m in re.findall(r"\bchirp_[a-z_]+\b", path.read_text())}


async def test_metrics_after_traffic(server: ChirpServer) -> None:
    async with server.graphql() as gql, httpx.AsyncClient(base_url=server.url) as http:
        user = await sign_up(gql, f"metered{int(time.time() * 1000) % 100000}")
        await gql.post(STATUS, token=user.token)
        await gql.post("{ nonsense }")
        async with GraphQLWebSocket.connect(server.ws_url) as ws:
            await ws.subscribe("1", PUBLIC_FEED)
            open_metrics = await _scrape(http)
            deadline = time.monotonic() + 10
            while not re.search(r"^chirp_subscriptions_active 1\.0$", open_metrics, re.M):
                assert time.monotonic() < deadline, "the subscription never counted"
                await asyncio.sleep(0.05)
                open_metrics = await _scrape(http)
        refused = await http.get("/metrics")
        metrics = await _scrape(http)

    assert refused.status_code == 401
    names = exported(metrics)
    missing = named_in_rules_and_dashboard() - names
    assert missing == set(), f"named in ops/ but not exported: {sorted(missing)}"
    assert (
        'chirp_graphql_operations_total{operation="Status",outcome="client_error",type="query"}'
        in metrics
    )
    assert 'chirp_graphql_errors_total{code="GRAPHQL_VALIDATION_FAILED"}' in metrics
    assert re.search(r"^chirp_signups_total [1-9]", metrics, re.M)
    assert re.search(r"^chirp_websocket_connections 1\.0$", open_metrics, re.M)
    assert re.search(r'^chirp_db_query_duration_seconds_count\{statement="SELECT"\} [1-9]',
                     metrics, re.M)  # fmt: skip
    assert re.search(r"^chirp_ready 1\.0$", metrics, re.M)


async def _scrape(http: httpx.AsyncClient) -> str:
    response = await http.get("/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    return response.text


async def test_readiness_turns_503_while_the_server_drains(
    request: pytest.FixtureRequest, database: Database, tmp_path: Path
) -> None:
    chirp = ChirpServer("chirp-drain", database, tmp_path, redis_url=database.redis_url,
                        env={"DRAIN_SECONDS": "2"})  # fmt: skip
    body = json.dumps({"query": "{ publicFeed(first: 1) { edges { cursor } } }"}).encode()
    async with running(request, chirp), httpx.AsyncClient(base_url=chirp.url) as http:
        assert (await http.get("/readyz")).status_code == 200
        # A request in flight: headers and half its body sent, the rest held back.
        reader, writer = await asyncio.open_connection("127.0.0.1", chirp.port)
        writer.write(
            b"POST /graphql HTTP/1.1\r\nHost: chirp\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\n" + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:10]
        )
        await writer.drain()

        chirp.send_signal(signal.SIGTERM)
        draining = await http.get("/readyz")
        writer.write(body[10:])
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), timeout=10)
        writer.close()

        assert draining.status_code == 503
        assert draining.json()["status"] == "draining"
        assert answer.startswith(b"HTTP/1.1 200")
        assert b'"publicFeed"' in answer
        assert await chirp.wait_exit(15)


async def test_a_worker_serves_its_own_gauges_and_fine_job_buckets(
    database: Database, tmp_path: Path
) -> None:
    """`chirp worker` with WORKER_METRICS_PORT: its chirp_ready says whether the worker
    itself reaches its dependencies (the serving job's alert does not read it), job
    durations have buckets below 50 ms, and SIGTERM stops it cleanly."""
    # The worker needs Redis: the machine's with PostgreSQL, a private one with SQLite.
    redis = RedisServer(tmp_path) if database.redis_url is None else None
    if redis is not None:
        await redis.start()
    redis_url = database.redis_url or (redis.url if redis else None)
    port = free_port()
    worker = ChirpServer("chirp-worker", database, tmp_path, redis_url=redis_url,
                         env={"WORKER_METRICS_PORT": str(port), "EMBEDDED_WORKER": "0",
                              "TRACES_EXPORTER": "console"})  # fmt: skip
    worker._spawn([sys.executable, "-m", "app.cli", "worker"], worker.environment())
    try:
        text = ""
        deadline = time.monotonic() + 30
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2) as http:
            while not re.search(r"^chirp_ready 1\.0$", text, re.M):
                assert worker.running, worker.log_text()
                assert time.monotonic() < deadline, f"the worker never got ready: {text[-500:]}"
                await asyncio.sleep(0.1)
                with contextlib.suppress(httpx.TransportError):
                    text = (await http.get("/metrics")).text
        assert re.search(r"^chirp_db_pool_size [1-9]", text, re.M)
        assert re.search(
            r'^chirp_job_duration_seconds_bucket\{le="0\.005",task="chirp\.fan_out_post"\} ',
            text,
            re.M,
        )
        worker.send_signal(signal.SIGTERM)
        assert await worker.wait_exit(15), worker.log_text()
    finally:
        await worker.terminate()
        if redis is not None:
            await redis.terminate()


async def test_the_worker_flushes_its_traces_however_it_exits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app import cli, runtime
    from app.settings import Settings
    from telemetry import tracing

    flushed: list[bool] = []

    def unavailable(settings: Settings) -> None:
        raise RuntimeError("the database is not there")

    monkeypatch.setattr(tracing, "shutdown_tracing", lambda: flushed.append(True))
    monkeypatch.setattr(runtime, "build_services", unavailable)
    settings = Settings(env="test", redis_url="redis://127.0.0.1:1/0")
    with pytest.raises(RuntimeError):
        await cli._worker(settings)
    assert flushed == [True]
