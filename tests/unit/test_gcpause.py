"""telemetry/gcpause.py: every collection's pause is timed without taking a lock inside the
collector's callback, and reaches `chirp_gc_pause_seconds` when flushed; a compaction
collects what was frozen."""

from __future__ import annotations

import gc
import weakref

from prometheus_client import REGISTRY

from telemetry import gcpause


def _count(generation: str) -> float:
    value = REGISTRY.get_sample_value("chirp_gc_pause_seconds_count", {"generation": generation})
    return value or 0.0


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_collections_are_timed_and_recorded_when_flushed() -> None:
    gcpause.watch_collections()
    before = _count("2")
    gc.collect()
    unflushed = _count("2")
    gcpause.flush()

    assert unflushed == before  # the callback only queued it
    assert _count("2") == before + 1


def test_a_compaction_reclaims_a_cycle_that_died_while_frozen() -> None:
    gcpause.watch_collections()
    cycle = _Cycle()
    alive = weakref.ref(cycle)
    gc.freeze()
    try:
        del cycle
        gc.collect()
        survived = alive() is not None
        before = _count("compact")
        pause = gcpause.compact()
    finally:
        gc.unfreeze()

    assert survived  # frozen: out of the collector's sight
    assert pause >= 0
    assert _count("compact") == before + 1
    assert alive() is None
