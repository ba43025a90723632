"""What one domain adds to the schema. Each domain's package of `schema/` or `admin/`
declares a `SURFACE` in its `__init__.py`; the composition (`app.schema`) finds them all."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class Surface:
    """A domain's root fields (strawberry types whose fields join Query, Mutation or
    Subscription) and the fields it declares on the shared `Account` type."""

    queries: tuple[type, ...] = ()
    mutations: tuple[type, ...] = ()
    subscriptions: tuple[type, ...] = ()
    account_fields: tuple[type, ...] = ()
