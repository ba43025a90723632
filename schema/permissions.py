"""Field permissions. Role directives arrive with the back office; signing in is here."""

from __future__ import annotations

from typing import Any

from strawberry.permission import BasePermission

from resolvers.context import Info


class IsAuthenticated(BasePermission):
    message = (
        "Log in first: send `Authorization: Bearer <token>` over HTTP, or "
        "`authorization` in the WebSocket `connection_init` payload."
    )
    error_extensions = {"code": "UNAUTHENTICATED"}

    def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        return info.context.viewer is not None
