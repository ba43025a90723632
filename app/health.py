"""Health and metrics endpoints: /livez, /readyz and /metrics (protected).

/readyz answers 503 when the database, its migrations or Redis fail, and from the moment
shutdown begins (SIGTERM): a load balancer stops sending traffic while in-flight requests
finish. /metrics needs `Authorization: Bearer $METRICS_TOKEN` when that is set; without it,
/metrics is open in development and test and absent (404) in production."""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response

from app.middleware import bearer_token
from app.probes import Probes
from app.settings import Settings
from telemetry import gcpause

log = structlog.get_logger("chirp.health")

Endpoint = Callable[[Request], Awaitable[Response]]

SCRAPE_REFRESH_TIMEOUT = 5.0


async def livez(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def readyz(probes: Probes) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        checks = await probes.readiness()
        started = getattr(request.app.state, "ready", False)
        if probes.draining:
            status = "draining"
        elif started and all(checks.values()):
            status = "ready"
        else:
            status = "unready"
        return JSONResponse(
            {"status": status, "checks": checks}, status_code=200 if status == "ready" else 503
        )

    return endpoint


def metrics_endpoint(settings: Settings, probes: Probes) -> Endpoint:
    token = settings.metrics_token

    async def endpoint(request: Request) -> Response:
        if token is None:
            if settings.is_production:
                return PlainTextResponse("Not Found", status_code=404)
        else:
            offered = bearer_token(request.headers.get("authorization")) or ""
            if not hmac.compare_digest(offered.encode(), token.encode()):
                return PlainTextResponse(
                    "Send Authorization: Bearer <METRICS_TOKEN>.",
                    status_code=401,
                    headers={"www-authenticate": "Bearer"},
                )
        try:
            async with asyncio.timeout(SCRAPE_REFRESH_TIMEOUT):
                await probes.refresh_gauges()
        except Exception:
            # The counters and histograms are still worth a scrape.
            log.warning("metrics gauges not refreshed", exc_info=True)
        gcpause.flush()
        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    return endpoint
