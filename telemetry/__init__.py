"""Operations telemetry: metrics, structured logs, traces and per-operation cost statistics.

It imports none of Chirp's layers, so the domain's neighbours (subscriptions, resolvers,
jobs, and the billing and webhook code to come) can all record into it."""
