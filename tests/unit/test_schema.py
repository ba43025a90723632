"""The committed SDL matches the code, and every part of the schema is described."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLUnionType,
)

from app.schema import SDL_PATH, build_schema
from models.errors import DomainError
from schema.core.errors import ErrorCode


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def test_committed_schema_graphql_is_up_to_date() -> None:
    expected = build_schema().as_str() + "\n"

    assert SDL_PATH.read_text() == expected, "schema.graphql is stale: run `make schema`"


def test_every_type_field_argument_and_enum_value_has_a_description() -> None:
    schema = build_schema()._schema
    missing: list[str] = []
    for name, gtype in schema.type_map.items():
        if name.startswith("__") or name in ("String", "Int", "Boolean", "ID", "Float"):
            continue
        if not gtype.description:
            missing.append(name)
        if isinstance(gtype, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in gtype.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        missing.append(f"{name}.{field_name}({arg_name})")
        if isinstance(gtype, GraphQLEnumType) and name != "ErrorCode":
            missing += [f"{name}.{v}" for v, value in gtype.values.items() if not value.description]

    assert missing == []


def test_every_domain_error_code_is_in_the_error_code_enum() -> None:
    codes = {cls.code for cls in _subclasses(DomainError)} | {DomainError.code}

    assert codes - {member.value for member in ErrorCode} == set()


def test_every_union_is_a_mutation_result_with_user_errors() -> None:
    schema = build_schema()._schema
    unions = [t for t in schema.type_map.values() if isinstance(t, GraphQLUnionType)]

    assert unions
    for union in unions:
        assert union.name.endswith("Result")
        assert any(t.interfaces and t.interfaces[0].name == "UserError" for t in union.types)
