"""uvicorn with a drain: on SIGTERM readiness fails at once, the server keeps serving for
DRAIN_SECONDS so a load balancer notices and stops sending traffic, and only then does
uvicorn's own graceful shutdown start (stop accepting, let in-flight requests finish).

uvicorn runs the lifespan shutdown only after connections have drained, which is too late
to tell a load balancer anything; its signal handler is the earliest point to learn of it."""

from __future__ import annotations

import time
from collections.abc import Callable
from types import FrameType

import structlog
import uvicorn

log = structlog.get_logger("chirp.serve")


class DrainingServer(uvicorn.Server):
    def __init__(
        self, config: uvicorn.Config, *, drain_seconds: float, on_drain: Callable[[], None]
    ) -> None:
        super().__init__(config)
        self.drain_seconds = drain_seconds
        self.on_drain = on_drain
        self._drain_until: float | None = None
        self._announced = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Runs as a signal handler: set flags only; the main loop does the rest.
        self.on_drain()
        if self.drain_seconds > 0 and self._drain_until is None:
            self._drain_until = time.monotonic() + self.drain_seconds
            return
        super().handle_exit(sig, frame)  # a second signal, or no drain: shut down now

    async def on_tick(self, counter: int) -> bool:
        if self._drain_until is not None:
            if not self._announced:
                self._announced = True
                log.info("draining: /readyz answers 503", drain_seconds=self.drain_seconds)
            if time.monotonic() >= self._drain_until:
                self.should_exit = True
        return await super().on_tick(counter)
