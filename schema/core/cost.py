"""The static cost of an operation, computed from its document and variables before any
resolver runs (the model of GitHub's node limit and Shopify's calculated cost):

- a scalar or enum field costs 0; an object, interface or union field costs 1 plus the cost
  of its selection;
- a list costs 1 + its size times (1 + the cost of one item's selection): a connection's size is
  its `first`, a plain list's the bound (or the argument) in `LIST_SIZES`. The item counts
  once, so a list's wrappers (`edges`, an edge, its `node`, `pageInfo`) cost nothing more;
- a mutation field costs `MUTATION_COST` instead of 1, a subscription field
  `SUBSCRIPTION_COST` (charged once, when it starts), plus their selections;
- an abstract type's selection costs what its dearest possible type's does; each alias
  counts; fragments count where they are spread; fields under `@skip(if: true)` or
  `@include(if: false)` count nothing; an operation costs at least 1.

`first` is read from the operation's variables when it is one; a variable left out takes its
default, else the argument's, else the largest page. The same walk runs the arguments'
checks (`schema/core/checks.py`) and notes the role-gated fields the operation selects. The
model is built once per schema and refuses a schema that has a list field without a size
rule, or whose size argument has no check."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLIncludeDirective,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    NamedTypeNode,
    SelectionSetNode,
    get_named_type,
    is_abstract_type,
    is_interface_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.values import (
    VariableValues,
    get_argument_values,
    get_directive_values,
    get_variable_values,
)
from graphql.utilities import get_operation_ast

from resolvers.paging import MAX_PAGE, BadUserInput
from schema.core.checks import Check, check_of

MUTATION_COST = 10
SUBSCRIPTION_COST = 10
INTROSPECTION_COST = 1
MIN_COST = 1
SIZE_ARGUMENT = "first"

# Plain lists of objects: the most items each holds, or the argument that says how many.
LIST_SIZES: Mapping[str, int | str] = {
    "Account.profileHistory": 50,
    "Billing.paymentMethods": 20,
    "Coupon.amountsOff": 4,
    "DraftInvoice.lines": 36,
    "Invoice.creditNotes": 20,
    "Invoice.lines": 36,
    "Plan.prices": 8,
    "PlanChangePreview.lines": 36,
    "Post.editHistory": 50,
    "ProfileChange.changes": 3,
    "Query.operationCosts": SIZE_ARGUMENT,
    "Query.plans": 3,
    "Query.platformStatistics": 90,
    "Query.webhookEndpoints": 50,
    "SystemStatus.versions": 10,
    "WebhookDelivery.attempts": 20,
}


@dataclass(frozen=True, slots=True)
class Size:
    """How many items a list field yields at most: a fixed bound, or an argument's value."""

    fixed: int = 1
    argument: str | None = None

    def of(self, arguments: Mapping[str, Any], max_page: int) -> int:
        if self.argument is None:
            return self.fixed
        value = arguments.get(self.argument)
        if not isinstance(value, int) or isinstance(value, bool):
            return max_page
        return min(max(value, 0), max_page)


_MISSING = Size(fixed=-1)  # a list field that has no rule


@dataclass(frozen=True, slots=True)
class _Rule:
    """What the walk needs of one field, worked out once per schema."""

    field: GraphQLField
    named: GraphQLNamedType
    leaf: bool
    free: bool  # a list's wrapper, or an edge's node: the list counts the item
    size: Size | None
    checks: tuple[tuple[str, Check], ...]
    gated: bool

    @property
    def reads_arguments(self) -> bool:
        return bool(self.checks) or (self.size is not None and self.size.argument is not None)


@dataclass(frozen=True, slots=True)
class Analysis:
    """An operation's cost, the errors of its arguments' checks (empty when it may run), and
    the gated fields it selects (`Type.field` and where, for the first time)."""

    cost: int
    errors: tuple[GraphQLError, ...]
    gated: tuple[tuple[str, FieldNode], ...] = ()


class UndeclaredList(ValueError):
    """A list field of the schema has no size rule: the cost model cannot price it."""


class CostModel:
    """Prices operations against one schema; built once, at schema build time."""

    def __init__(
        self,
        schema: GraphQLSchema,
        *,
        list_sizes: Mapping[str, int | str] = LIST_SIZES,
        max_page: int = MAX_PAGE,
        gated: Iterable[str] = (),
    ) -> None:
        self.schema = schema
        self.max_page = max_page
        self.gated = frozenset(tuple(coordinate.split(".", 1)) for coordinate in gated)
        self.connections = frozenset(
            name for name, t in schema.type_map.items() if _is_connection(t)
        )
        edges = {
            get_named_type(t.fields["edges"].type).name  # type: ignore[attr-defined]
            for name, t in schema.type_map.items()
            if name in self.connections
        }
        self.wrappers = frozenset({*edges, "PageInfo"})
        self.sizes: dict[tuple[str, str], Size] = {}
        self.rules: dict[str, dict[str, _Rule]] = {}
        missing: list[str] = []
        for type_ in _composite_types(schema):
            rules = self.rules[type_.name] = {}
            for name, field in type_.fields.items():
                key = (type_.name, name)
                checks = tuple(
                    (arg, check) for arg, a in field.args.items() if (check := check_of(a))
                )
                size = self._size_rule(type_.name, name, field, list_sizes)
                if size is _MISSING:
                    missing.append(f"{type_.name}.{name}")
                    size = None
                elif size is not None:
                    self.sizes[key] = size
                    if size.argument is not None and size.argument not in dict(checks):
                        missing.append(f"{type_.name}.{name}({size.argument}: unchecked)")
                named = get_named_type(field.type)
                rules[name] = _Rule(
                    field=field,
                    named=named,
                    leaf=is_leaf_type(named),
                    free=named.name in self.wrappers or type_.name in self.wrappers,
                    size=size,
                    checks=checks,
                    gated=key in self.gated,
                )
        if missing:
            raise UndeclaredList(
                "list fields without a size rule in schema/core/cost.py LIST_SIZES: "
                + ", ".join(sorted(missing))
            )

    def _size_rule(
        self, owner: str, name: str, field: GraphQLField, list_sizes: Mapping[str, int | str]
    ) -> Size | None:
        declared = list_sizes.get(f"{owner}.{name}")
        if declared is not None:
            return Size(argument=declared) if isinstance(declared, str) else Size(declared)
        named = get_named_type(field.type)
        if named.name in self.connections:
            return Size(argument=SIZE_ARGUMENT) if SIZE_ARGUMENT in field.args else _MISSING
        if not _is_list(field) or is_leaf_type(named):
            return None
        if owner in self.connections and name == "edges":
            return Size()  # one page: the connection field multiplies it
        return _MISSING

    def analyse(
        self,
        document: DocumentNode,
        operation_name: str | None,
        variables: Mapping[str, Any] | None,
    ) -> Analysis | None:
        """The operation's cost and argument errors; None when execution will refuse it
        anyway before any resolver (no such operation, variables that do not coerce)."""
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            return None
        coerced = get_variable_values(
            self.schema, operation.variable_definitions or (), dict(variables or {})
        )
        if not isinstance(coerced, VariableValues):
            return None
        root = self.schema.get_root_type(operation.operation)
        if root is None:
            return None
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        walk = _Walk(self, fragments, coerced, root)
        cost = walk.on_type(root, operation.selection_set)
        gated = tuple((f"{t}.{f}", node) for (t, f), node in walk.gated.items())
        return Analysis(max(MIN_COST, cost), tuple(walk.errors.values()), gated)


class _Walk:
    """One operation's walk: costs memoised per (selection set, type), so fragments spread
    many times are priced in full but walked once; argument errors deduplicated."""

    __slots__ = ("errors", "fragments", "gated", "memo", "model", "own_root", "root", "variables")

    def __init__(
        self,
        model: CostModel,
        fragments: dict[str, FragmentDefinitionNode],
        variables: VariableValues,
        root: GraphQLObjectType,
    ) -> None:
        self.model = model
        self.fragments = fragments
        self.variables = variables
        self.root = root
        schema = model.schema
        self.own_root = (
            MUTATION_COST
            if root is schema.mutation_type
            else SUBSCRIPTION_COST
            if root is schema.subscription_type
            else 1
        )
        self.memo: dict[tuple[int, str], int] = {}
        self.errors: dict[int, GraphQLError] = {}
        self.gated: dict[tuple[str, str], FieldNode] = {}

    def on_type(self, type_: GraphQLObjectType, selection_set: SelectionSetNode) -> int:
        key = (id(selection_set), type_.name)
        known = self.memo.get(key)
        if known is not None:
            return known
        total = 0
        for node in selection_set.selections:
            if node.directives and not self._included(node):  # type: ignore[arg-type]
                continue
            if isinstance(node, FieldNode):
                total += self._field(type_, node)
            elif isinstance(node, InlineFragmentNode):
                if self._applies(node.type_condition, type_):
                    total += self.on_type(type_, node.selection_set)
            elif isinstance(node, FragmentSpreadNode):
                fragment = self.fragments.get(node.name.value)
                if fragment is not None and self._applies(fragment.type_condition, type_):
                    total += self.on_type(type_, fragment.selection_set)
        self.memo[key] = total
        return total

    def _selection(self, type_: GraphQLNamedType, selection_set: SelectionSetNode) -> int:
        if is_object_type(type_):
            return self.on_type(type_, selection_set)  # type: ignore[arg-type]
        possible = self.model.schema.get_possible_types(type_)  # type: ignore[arg-type]
        return max((self.on_type(t, selection_set) for t in possible), default=0)

    def _field(self, parent: GraphQLObjectType, node: FieldNode) -> int:
        name = node.name.value
        if name == "__typename":
            return 0
        if name in ("__schema", "__type"):
            return INTROSPECTION_COST
        rule = self.model.rules[parent.name].get(name)
        if rule is None:
            return 0
        if rule.gated and parent is not self.root:
            # A root field's own gate runs before it writes; one below it, after.
            self.gated.setdefault((parent.name, name), node)
        arguments = self._arguments(rule, node) if rule.reads_arguments else {}
        if rule.leaf:
            return self.own_root if parent is self.root and self.own_root > 1 else 0
        own = self.own_root if parent is self.root else 0 if rule.free else 1
        inner = self._selection(rule.named, node.selection_set) if node.selection_set else 0
        if rule.size is None:
            return own + inner
        count = rule.size.of(arguments, self.model.max_page)
        return own + count * ((0 if rule.free else 1) + inner)

    def _arguments(self, rule: _Rule, node: FieldNode) -> dict[str, Any]:
        try:
            values = get_argument_values(rule.field, node, self.variables)
        except GraphQLError:
            return {}  # execution refuses it before any resolver
        for argument, check in rule.checks:
            if argument not in values:
                continue
            try:
                check(values[argument], argument)
            except BadUserInput as err:
                where = next((a for a in node.arguments or () if a.name.value == argument), node)
                self.errors.setdefault(
                    id(where),
                    GraphQLError(err.message, nodes=[where], extensions=err.extensions),
                )
        return values

    def _included(self, node: FieldNode | InlineFragmentNode | FragmentSpreadNode) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, node, self.variables)
        if skip is not None and skip.get("if") is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, node, self.variables)
        return include is None or include.get("if") is not False

    def _applies(self, condition: NamedTypeNode | None, type_: GraphQLObjectType) -> bool:
        if condition is None or condition.name.value == type_.name:
            return True
        conditional = self.model.schema.get_type(condition.name.value)
        return (
            conditional is not None
            and is_abstract_type(conditional)
            and self.model.schema.is_sub_type(conditional, type_)  # type: ignore[arg-type]
        )


def _composite_types(schema: GraphQLSchema) -> list[Any]:
    return [
        t
        for name, t in schema.type_map.items()
        if not name.startswith("__") and (is_object_type(t) or is_interface_type(t))
    ]


def _is_connection(type_: GraphQLNamedType) -> bool:
    fields = getattr(type_, "fields", None)
    return (
        is_object_type(type_)
        and fields is not None
        and "edges" in fields
        and "pageInfo" in fields
        and _is_list(fields["edges"])
    )


def _is_list(field: GraphQLField) -> bool:
    type_ = field.type.of_type if is_non_null_type(field.type) else field.type
    return is_list_type(type_)
