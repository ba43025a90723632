"""Declared results: a mutation names its result union once, and one field extension turns a
`DomainError` into the member of that union that stands for it (Saleor's `error_type_class`).
No mutation catches errors itself. An error whose type the union does not declare is a bug:
it propagates and is masked like any unexpected error."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from strawberry.extensions.field_extension import AsyncExtensionResolver, FieldExtension
from strawberry.types.field import StrawberryField
from strawberry.types.union import StrawberryUnion

from models.errors import DomainError
from schema.core.errors import ERROR_TYPES, ErrorCode, UserError


class DeclaredResult(FieldExtension):
    """Maps the resolver's `DomainError` to the error type its result union declares."""

    def __init__(self) -> None:
        self.declared: dict[str, type[UserError]] = {}

    def apply(self, field: StrawberryField) -> None:
        result = field.type
        if not isinstance(result, StrawberryUnion):
            raise TypeError(f"{field.python_name} must return a result union")
        members = set(result.types)
        self.declared = {kind: cls for kind, cls in ERROR_TYPES.items() if cls in members}

    async def resolve_async(
        self, next_: AsyncExtensionResolver, source: Any, info: strawberry.Info, **kwargs: Any
    ) -> Any:
        try:
            return await next_(source, info, **kwargs)
        except DomainError as err:
            cls = self.declared.get(err.kind)
            if cls is None:
                raise
            return cls(message=err.message, code=ErrorCode(err.code), field=err.field)


def mutation(
    *, description: str, extensions: list[FieldExtension] | None = None, **options: Any
) -> Callable[[Callable[..., Any]], Any]:
    """`strawberry.mutation` whose domain errors become members of its result union. The
    mapping is the innermost extension (strawberry runs the last one outermost), so it sees
    only what the resolver raises, never a permission check's failure."""
    decorator: Callable[[Callable[..., Any]], Any] = strawberry.mutation(
        description=description, extensions=[DeclaredResult(), *(extensions or [])], **options
    )
    return decorator


def outcome(mutation_name: str) -> StrawberryUnion:
    """The declaration of a mutation's result union: `CreatePostResult`, "The outcome of
    `createPost`: its payload or a UserError."."""
    declared: StrawberryUnion = strawberry.union(
        f"{mutation_name[0].upper()}{mutation_name[1:]}Result",
        description=f"The outcome of `{mutation_name}`: its payload or a UserError.",
    )
    return declared
