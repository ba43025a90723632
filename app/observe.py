"""Per request: the request id in the log context, a span, HTTP metrics and one access line.

The GraphQL layer leaves a summary of its operation (name, type, error codes, SQL cost) in
the request's state; the access line includes it. WebSocket operations get their own line
from the GraphQL layer, one per operation."""

from __future__ import annotations

import time
from collections.abc import Awaitable
from contextlib import nullcontext
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from telemetry import logs, metrics, tracing

log = structlog.get_logger("chirp.access")

ROUTES = frozenset({"/graphql", "/livez", "/readyz", "/metrics", "/webhooks/stripe"})
QUIET_ROUTES = frozenset({"/livez", "/readyz", "/metrics"})  # probes: logged at DEBUG
GRAPHQL_SUMMARY = "graphql"


class Observe:
    """Sits inside RequestId, which has put the request id into the scope's state."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._durations = {route: metrics.HTTP_DURATION.labels(route) for route in ROUTES}
        self._durations["other"] = metrics.HTTP_DURATION.labels("other")

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # A WebSocket is handed on, not awaited here, so its life holds no frame of this:
        # nothing is bound for the socket's life (each idle connection would hold it), its
        # operations' lines name the request id themselves, and app.sockets counts it.
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        return self._request(scope, receive, send)

    async def _request(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.setdefault("state", {})
        tokens = logs.bind(request_id=state.get("request_id", "-"))
        try:
            await self._http(scope, receive, send, state)
        finally:
            logs.unbind(tokens)

    async def _http(self, scope: Scope, receive: Receive, send: Send, state: Any) -> None:
        path: str = scope["path"]
        route = path if path in ROUTES else "other"
        method: str = scope["method"]
        status = 500
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        span = None
        if tracing.enabled():
            span = tracing.tracer.start_span(
                f"HTTP {method} {route}",
                kind=SpanKind.SERVER,
                attributes={"http.request.method": method, "url.path": route},
            )
        try:
            with trace.use_span(span, end_on_exit=False) if span else nullcontext():
                await self.app(scope, receive, send_status)
        finally:
            elapsed = time.perf_counter() - started
            metrics.HTTP_REQUESTS.labels(route, method, str(status)).inc()
            self._durations[route].observe(elapsed)
            if span is not None:
                span.set_attribute("http.response.status_code", status)
                with trace.use_span(span, end_on_exit=True):
                    self._access_line(path, route, method, status, elapsed, state)
            else:
                self._access_line(path, route, method, status, elapsed, state)

    @staticmethod
    def _access_line(
        path: str, route: str, method: str, status: int, elapsed: float, state: Any
    ) -> None:
        viewer = state.get("viewer")
        summary: dict[str, Any] = state.get(GRAPHQL_SUMMARY) or {}
        emit = log.debug if route in QUIET_ROUTES and status < 500 else log.info
        emit(
            "request",
            method=method,
            path=path[:200],
            status=status,
            duration_ms=round(elapsed * 1000, 2),
            account_id=None if viewer is None else viewer.id,
            **summary,
        )
