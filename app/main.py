"""The ASGI composition root: `create_app(settings)` wires every part together."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route, WebSocketRoute

from app import health, invoice_files, stripe_webhooks
from app.compiled import CompiledOperations
from app.middleware import BearerAuth, ClientAddress, HttpOnly, RequestId, SlowConsumers
from app.observe import Observe
from app.probes import describe_build
from app.request_limits import RequestLimits
from app.runtime import build_services, running
from app.schema import ChirpSchema, build_schema
from app.settings import Settings
from app.view import ChirpGraphQL
from models.timeline.reader import Reader
from resolvers.context import Runtime
from telemetry import metrics


def compiled_operations(
    settings: Settings, runtime: Runtime, schema: ChirpSchema, reader: Reader
) -> list[Middleware]:
    """The fast path for known reads (app/compiled.py; with COMPILED_OPERATIONS=false only
    its persisted queries and the per-address request limit)."""
    rules = schema.admission
    return [
        Middleware(
            CompiledOperations,
            runtime=runtime,
            reader=reader,
            schema=schema._schema,
            rules=rules.rules,
            cost_model=rules.cost_model,
            max_cost=rules.max_cost,
            max_tokens=rules.max_tokens,
            slow_operation_ms=settings.slow_operation_ms,
            enabled=settings.compiled_operations,
        )
    ]


def create_app(settings: Settings) -> Starlette:
    services = build_services(settings)
    schema = build_schema(
        production=settings.is_production,
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
        max_cost=settings.max_query_cost,
        max_subscription_cost=settings.max_subscription_cost,
        slow_operation_ms=settings.slow_operation_ms,
    )
    graphql = ChirpGraphQL(schema, services.runtime)
    reader = services.runtime.reader
    assert reader is not None
    metrics.BUILD.info(describe_build())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with running(services):
            app.state.ready = True
            try:
                yield
            finally:
                app.state.ready = False

    app = Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/livez", health.livez),
            Route("/readyz", health.readyz(services.probes)),
            Route("/metrics", health.metrics_endpoint(settings, services.probes)),
            Route(
                stripe_webhooks.PATH,
                stripe_webhooks.StripeWebhookEndpoint(services.runtime).receive,
                methods=["POST"],
            ),
            *invoice_files.routes(services.runtime),
        ],
        middleware=[
            Middleware(SlowConsumers, send_timeout=settings.ws_send_timeout),
            Middleware(RequestId),
            Middleware(ClientAddress, trusted_proxies=settings.trusted_proxies),
            Middleware(Observe),
            Middleware(
                HttpOnly,
                middleware=CORSMiddleware,
                allow_origins=list(settings.cors_origins),
                allow_methods=["GET", "POST"],
                # Idempotency-Key (docs/api.md#retrying-mutations-safely) and what answers it.
                allow_headers=["authorization", "content-type", "x-request-id", "idempotency-key"],
                expose_headers=["x-request-id", "idempotent-replayed", "retry-after"],
                max_age=600,
            ),
            # Inside CORS, so that browsers may read its 413, 414 and 429 answers.
            Middleware(RequestLimits, runtime=services.runtime),
            *compiled_operations(settings, services.runtime, schema, reader),
            Middleware(BearerAuth, runtime=services.runtime),
        ],
        lifespan=lifespan,
    )
    app.state.services = services
    return app
