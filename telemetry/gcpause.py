"""Garbage-collection pauses. A full collection walks every tracked object, so a process
holding thousands of live subscriptions (some hundreds of objects each) pauses for about a
second each time, and the objects a busy process promotes (deliveries in flight when a young
collection runs) set one off every few seconds: every request and delivery waits.

`install` (called by `chirp serve` when GC_COMPACT_SECONDS is above 0):
- freezes what exists once the app is built, and what survives each full collection
  (`gc.freeze`): long-lived objects (idle subscriptions, pools, the schema) leave the
  collector's sight, so a full collection walks only what is new since the last one;
- collects the young generation every 10,000 net allocations rather than 700;
- `compact`, run on the event loop every GC_COMPACT_SECONDS by `app.runtime.running`,
  unfreezes and collects everything once, so a reference cycle that died while frozen (a
  closed subscription's frames) is reclaimed: one pause per interval instead of one every
  few seconds.

Every pause is timed into `chirp_gc_pause_seconds{generation}` (`compact` for those). The
collector's callback only appends to a bounded deque (no lock: a collection may start while
any lock is held, metrics' own included); `flush`, called by each /metrics scrape and each
compaction, moves the timings into the histogram."""

from __future__ import annotations

import gc
import time
from collections import deque
from typing import Any

from telemetry import metrics

YOUNG_THRESHOLD = 10_000  # allocations between young collections (Python's default: 700)
_started: list[float] = []
_timings: deque[tuple[str, float]] = deque(maxlen=10_000)
_freezing = False


def _callback(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started.append(time.perf_counter())
        return
    if _started:
        _timings.append((str(info.get("generation", "?")), time.perf_counter() - _started.pop()))
    if _freezing and info.get("generation") == 2:
        gc.freeze()


def watch_collections() -> None:
    if _callback not in gc.callbacks:
        gc.callbacks.append(_callback)


def flush() -> None:
    """Record the pauses timed since the last flush."""
    while _timings:
        generation, seconds = _timings.popleft()
        metrics.GC_PAUSE.labels(generation).observe(seconds)


def install(compact_seconds: float) -> None:
    global _freezing
    watch_collections()
    if compact_seconds <= 0:
        return
    gc.collect()
    gc.freeze()
    _freezing = True
    # Fewer young collections: each promotes what is in flight at that moment (a batch of
    # deliveries), and promotions are what set off full collections.
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def freezing() -> bool:
    """Whether `install` froze long-lived objects (so `compact` must run periodically)."""
    return _freezing


def compact() -> float:
    """Collect everything once, frozen objects included, and freeze the survivors again;
    returns the pause in seconds. Run on the event loop's thread: finalizers of what it
    reclaims (connections, generators) expect that thread."""
    started = time.perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    pause = time.perf_counter() - started
    _timings.append(("compact", pause))
    flush()
    return pause
