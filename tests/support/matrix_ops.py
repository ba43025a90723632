"""Matrix calls for the operations read-outs."""

from __future__ import annotations

from tests.support.matrix import Call

CALLS: dict[str, Call] = {
    "Query.systemStatus": Call(
        "{ systemStatus { jobQueueDepth migration { atHead } } }", path=("systemStatus",)
    ),
    "Query.operationCosts": Call(
        "{ operationCosts(first: 5) { name count } }", path=("operationCosts",)
    ),
}
