"""The ASGI composition root: `create_app(settings)` wires every part together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute

from app import db
from app.middleware import BearerAuth, RequestId
from app.runtime import Services, build_services, running
from app.settings import Settings
from app.view import ChirpGraphQL
from schema import build_schema


def create_app(settings: Settings) -> Starlette:
    services = build_services(settings)
    schema = build_schema(
        production=settings.is_production,
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
    )
    graphql = ChirpGraphQL(schema, services.runtime)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with running(services):
            app.state.ready = True
            yield
            app.state.ready = False

    async def livez(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        checks = await _readiness(services)
        ready = all(checks.values()) and getattr(request.app.state, "ready", False)
        return JSONResponse(
            {"status": "ready" if ready else "unready", "checks": checks},
            status_code=200 if ready else 503,
        )

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/livez", livez),
            Route("/readyz", readyz),
        ],
        middleware=[
            Middleware(RequestId),
            Middleware(
                CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type", "x-request-id"],
                expose_headers=["x-request-id"],
                max_age=600,
            ),
            Middleware(BearerAuth, runtime=services.runtime),
        ],
        lifespan=lifespan,
    )
    app.state.services = services
    return app


async def _readiness(services: Services) -> dict[str, bool]:
    checks: dict[str, bool] = {}
    try:
        async with services.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        checks["database"] = True
        checks["migrations"] = await db.current_revision(services.engine) == db.head_revision()
    except Exception:
        checks["database"] = checks["migrations"] = False
    if services.redis_backend is not None:
        checks["redis"] = services.redis_backend.connected
    return checks
