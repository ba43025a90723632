"""Compiled operations: a query that reads only timelines, posts and accounts' public fields
is compiled once into a `Plan` that fetches its answer with one lean statement per list
(`models/timeline/lean.py`) and shapes the response directly, without the general executor.

`compile_operation` takes a document the general path would accept (parsed and validated
with the same rules and limits) and returns None for anything it does not know: several root
fields, a mutation or subscription, a directive, a field it has no column for (a staff field,
`email`, an account's followers, an edit history, a list below a list). Those run through the
general executor as before, so a plan never changes what an operation may do: it is the same
answer, sooner.

Supported, with aliases, `__typename`, fragments and inline fragments:
- `homeTimeline(first, after)` and `publicFeed(first, after)`: a `PostConnection`;
- `post(id)` and `node(id)` on `Post`, with `thread(first, after)` on the root post;
- `account(handle)` and `node(id)` on `Account`, with `posts(first, after)` on the root account;
- on a post: `id`, `body`, `visibility`, `createdAt`, `editedAt`, `likeCount`, `repostCount`,
  `replyCount`, `sensitive`, `hidden`, `viewerHasLiked`, `author`, `repostOf`, `replyTo`;
- on an account: `id`, `handle`, `displayName`, `bio`, `avatarUrl`, `createdAt`,
  `followersCount`, `followingCount`, `postsCount`, `viewerFollows`.

Arguments are read at run time (`Plan.arguments`); any argument the general path would refuse
(a bad page size, cursor or id, a variable of the wrong type) makes the plan step aside, so
the general path answers with its own error."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    value_from_ast_untyped,
)
from graphql.execution.values import get_variable_values
from graphql.utilities import get_operation_ast

from models.ids import global_id
from models.timeline import lean
from models.timeline.lean import AccountPick, AccountSlots, PostPick, PostSlots, Source
from resolvers.paging import (
    EVENT_CURSOR,
    BadUserInput,
    check_first,
    decode_cursor,
    encode_cursor,
    parse_id_argument,
)
from schema.core.cost import Analysis, CostModel

Shape = Callable[[Sequence[Any]], Any]

POST_SCALARS: Mapping[str, str] = {
    "body": "body",
    "visibility": "visibility",
    "createdAt": "created_at",
    "editedAt": "edited_at",
    "likeCount": "like_count",
    "repostCount": "repost_count",
    "sensitive": "sensitive",
    "hidden": "hidden_at",
}
ACCOUNT_SCALARS: Mapping[str, str] = {
    "handle": "handle",
    "displayName": "display_name",
    "bio": "bio",
    "avatarUrl": "avatar_url",
    "createdAt": "created_at",
    "followersCount": "followers_count",
    "followingCount": "following_count",
    "postsCount": "posts_count",
}
DATETIMES = frozenset({"created_at", "edited_at"})
CONNECTION_ROOTS: Mapping[str, Source] = {"homeTimeline": Source.HOME, "publicFeed": Source.PUBLIC}
MAX_NESTING = 3  # repostOf / replyTo within each other
ANALYSES = 64  # cost analyses kept per plan, by variables
_UNSEEN = object()


class NotCompiled(Exception):
    """The document uses something a plan does not do: the general path runs it."""


class StepAside(Exception):
    """This request's arguments are not ones a plan answers (the general path will refuse
    them with its own error, or answers a case the plan does not)."""


@dataclass(frozen=True)
class Argument:
    """An argument's value: a variable's name or a literal."""

    variable: str | None
    literal: Any = None

    def value(self, variables: Mapping[str, Any]) -> Any:
        return variables.get(self.variable) if self.variable is not None else self.literal


@dataclass
class Page:
    """A connection: where its rows come from and how to shape them."""

    source: Source
    pick: PostPick
    first: Argument
    after: Argument
    shape: Callable[[list[Sequence[Any]], PostSlots, bool], Any]
    reads: dict[tuple[bool, bool, bool], lean.LeanRead] = field(default_factory=dict)

    def read(self, *, signed_in: bool, after: bool, check_session: bool) -> lean.LeanRead:
        key = (signed_in, after, check_session)
        found = self.reads.get(key)
        if found is None:
            found = self.reads[key] = lean.page_read(
                self.source, self.pick, signed_in=signed_in, after=after,
                check_session=check_session,
            )  # fmt: skip
        return found


@dataclass
class Single:
    """A post or an account at the root, and its one list (`thread`, `posts`) if selected."""

    type_name: str  # "Post" or "Account"
    pick: PostPick | AccountPick
    shape: Callable[[Sequence[Any], Any, Any], dict[str, Any]]  # row, slots, list's answer
    page: Page | None = None
    page_key: str | None = None  # the response key of the list
    reads: dict[tuple[bool, bool, bool], lean.LeanRead] = field(default_factory=dict)

    def read(self, *, signed_in: bool, by_handle: bool, check_session: bool) -> lean.LeanRead:
        key = (signed_in, by_handle, check_session)
        found = self.reads.get(key)
        if found is None:
            if isinstance(self.pick, PostPick):
                found = lean.post_read(self.pick, signed_in=signed_in, check_session=check_session)
            else:
                found = lean.account_read(
                    self.pick, by_handle=by_handle, signed_in=signed_in,
                    check_session=check_session,
                )  # fmt: skip
            self.reads[key] = found
        return found


@dataclass
class Plan:
    """One compiled operation: its single root field and how to answer it."""

    document: DocumentNode
    operation: OperationDefinitionNode
    operation_name: str | None
    root_key: str
    root: str  # homeTimeline, publicFeed, post, node, account
    argument: Argument | None  # the root's `id` or `handle`
    page: Page | None = None  # homeTimeline, publicFeed
    singles: dict[str, Single] = field(default_factory=dict)  # by type name
    analyses: dict[tuple[Any, ...], Analysis | None] = field(default_factory=dict)

    def analysis(self, model: CostModel, variables: Mapping[str, Any] | None) -> Analysis | None:
        """The cost model's analysis of this operation with these variables (its cost and the
        arguments' checks), kept for the last ANALYSES sets of variables: a timeline's first
        page is asked with the same ones all day."""
        try:
            key = tuple(sorted((variables or {}).items()))
            hash(key)
        except TypeError:  # a list or object among the variables: not kept
            return model.analyse(self.document, self.operation_name, variables)
        found = self.analyses.get(key, _UNSEEN)
        if found is _UNSEEN:
            found = model.analyse(self.document, self.operation_name, variables)
            self.analyses[key] = found
            while len(self.analyses) > ANALYSES:
                self.analyses.pop(next(iter(self.analyses)))
        return found  # type: ignore[return-value]

    @property
    def needs_viewer(self) -> bool:
        return self.root == "homeTimeline"

    def variables(self, schema: GraphQLSchema, inputs: Mapping[str, Any] | None) -> dict[str, Any]:
        """The coerced variables, or StepAside when the general path would refuse them."""
        coerced = get_variable_values(
            schema, self.operation.variable_definitions or (), dict(inputs or {})
        )
        if isinstance(coerced, list):
            raise StepAside("variables")
        return dict(coerced.coerced)


def compile_operation(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> Plan | None:
    """The plan of a validated document, or None if it is not one plans answer."""
    try:
        return _compile(schema, document, operation_name)
    except NotCompiled:
        return None


def _one_root(
    document: DocumentNode, name: str | None, kind: OperationType
) -> tuple[OperationDefinitionNode, _Collector, str, FieldNode]:
    """The operation of `kind`, a collector over its fragments, and its one root field (its
    response key and node); NotCompiled for anything else."""
    operation = get_operation_ast(document, name)
    if operation is None or operation.operation is not kind:
        raise NotCompiled(f"not one {kind.value}")
    if operation.directives:
        raise NotCompiled("directives")
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    collect = _Collector(fragments)
    root_type = "Query" if kind is OperationType.QUERY else "Subscription"
    roots = collect.fields(operation.selection_set, root_type)
    if len(roots) != 1:
        raise NotCompiled("one root field")
    ((key, node),) = roots
    return operation, collect, key, node


def _compile(schema: GraphQLSchema, document: DocumentNode, name: str | None) -> Plan:
    operation, collect, key, node = _one_root(document, name, OperationType.QUERY)
    root = node.name.value
    arguments = _arguments(node)
    op_name = operation.name.value if operation.name else None
    if root in CONNECTION_ROOTS:
        page = _page(collect, node, CONNECTION_ROOTS[root], arguments)
        return Plan(document, operation, op_name, key, root, None, page=page)
    if root in ("post", "node"):
        argument = _require(arguments, "id")
        plan = Plan(document, operation, op_name, key, root, argument)
        types = ("Post",) if root == "post" else ("Post", "Account")
        for type_name in types:
            plan.singles[type_name] = _single(collect, node, type_name)
        return plan
    if root == "account":
        plan = Plan(document, operation, op_name, key, root, _require(arguments, "handle"))
        plan.singles["Account"] = _single(collect, node, "Account")
        return plan
    raise NotCompiled(root)


def _arguments(node: FieldNode) -> dict[str, Argument]:
    found: dict[str, Argument] = {}
    for argument in node.arguments or ():
        value: ValueNode = argument.value
        if isinstance(value, VariableNode):
            found[argument.name.value] = Argument(value.name.value)
        else:
            found[argument.name.value] = Argument(None, value_from_ast_untyped(value))
    return found


def _require(arguments: Mapping[str, Argument], name: str) -> Argument:
    if name not in arguments:
        raise NotCompiled(name)
    return arguments[name]


class _Collector:
    """The fields a selection set asks of a concrete type, fragments resolved, in order."""

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments

    def fields(
        self, selection_set: SelectionSetNode | None, type_name: str
    ) -> list[tuple[str, FieldNode]]:
        found: list[tuple[str, FieldNode]] = []
        self._walk(selection_set, type_name, found, set())
        merged: dict[str, FieldNode] = {}
        for key, node in found:
            seen = merged.get(key)
            if seen is None:
                merged[key] = node
            elif not (_leaf(seen) and _leaf(node) and seen.name.value == node.name.value):
                # Validation merged them; a plan only merges the same leaf asked twice.
                raise NotCompiled("a response key asked twice")
        return list(merged.items())

    def _walk(
        self,
        selection_set: SelectionSetNode | None,
        type_name: str,
        found: list[tuple[str, FieldNode]],
        spread: set[str],
    ) -> None:
        if selection_set is None:
            raise NotCompiled("no selection")
        for selection in selection_set.selections:
            if selection.directives:
                raise NotCompiled("directives")
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                found.append((key, selection))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                if condition is None or _applies(condition.name.value, type_name):
                    self._walk(selection.selection_set, type_name, found, spread)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments[selection.name.value]
                if selection.name.value in spread:
                    continue
                if _applies(fragment.type_condition.name.value, type_name):
                    self._walk(
                        fragment.selection_set, type_name, found, spread | {selection.name.value}
                    )


def _leaf(node: FieldNode) -> bool:
    return node.selection_set is None and not node.arguments


def _applies(condition: str, type_name: str) -> bool:
    return condition == type_name or condition == "Node"


def _no_arguments(node: FieldNode) -> None:
    if node.arguments:
        raise NotCompiled("arguments")


def _datetime(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _post_shape(
    collect: _Collector, selection: SelectionSetNode | None, depth: int
) -> tuple[PostPick, Callable[[Sequence[Any], PostSlots], dict[str, Any]]]:
    columns: set[str] = set()
    author = repost_of = reply_to = None
    liked = replies = False
    makers: list[tuple[str, str, Any]] = []
    for key, node in collect.fields(selection, "Post"):
        name = node.name.value
        if name == "__typename":
            makers.append((key, "const", "Post"))
            continue
        _no_arguments(node)
        if name == "id":
            makers.append((key, "id", None))
        elif name in POST_SCALARS:
            columns.add(POST_SCALARS[name])
            makers.append((key, "column", POST_SCALARS[name]))
        elif name == "replyCount":
            replies = True
            makers.append((key, "reply_count", None))
        elif name == "viewerHasLiked":
            liked = True
            makers.append((key, "liked", None))
        elif name == "author":
            author, author_shape = _account_shape(collect, node.selection_set)
            makers.append((key, "author", author_shape))
        elif name in ("repostOf", "replyTo") and depth < MAX_NESTING:
            pick_inner, shape_inner = _post_shape(collect, node.selection_set, depth + 1)
            if name == "repostOf":
                repost_of = pick_inner
                makers.append((key, "repost_of", shape_inner))
            else:
                reply_to = pick_inner
                makers.append((key, "reply_to", shape_inner))
        else:
            raise NotCompiled(f"Post.{name}")
    pick = PostPick(frozenset(columns), author, repost_of, reply_to, liked, replies)

    def getter(kind: str, extra: Any, slots: PostSlots) -> Callable[[Sequence[Any]], Any]:
        """What one response key reads from a row, worked out once per statement."""
        if kind == "column":
            index = slots.columns[extra]
            if extra in DATETIMES:
                return lambda row: _datetime(row[index])
            if extra == "hidden_at":
                return lambda row: row[index] is not None
            if extra == "sensitive":
                return lambda row: bool(row[index])
            return lambda row: row[index]
        if kind == "id":
            return lambda row: global_id("Post", row[slots.id])
        if kind == "const":
            return lambda row: extra
        if kind == "reply_count":
            count = slots.reply_count
            assert count is not None
            return lambda row: int(row[count] or 0)
        if kind == "liked":
            liked_at = slots.viewer_has_liked
            assert liked_at is not None
            return lambda row: bool(row[liked_at])
        if kind == "author":
            assert slots.author is not None
            return _bound(extra, slots.author)
        inner: PostSlots | None = getattr(slots, kind)
        assert inner is not None
        nested = _bound(extra, inner)
        return lambda row: None if row[inner.id] is None else nested(row)

    return pick, _shaper(makers, getter)


def _shaper(makers: list[tuple[str, str, Any]], getter: Callable[[str, Any, Any], Any]) -> Any:
    """`shape(row, slots)`, whose getters are built on the first call for each statement's
    slots and kept: a row then costs one call per response key."""
    built: dict[int, tuple[Any, list[tuple[str, Callable[[Sequence[Any]], Any]]]]] = {}

    def bind(slots: Any) -> Callable[[Sequence[Any]], dict[str, Any]]:
        found = built.get(id(slots))
        if found is None or found[0] is not slots:
            found = built[id(slots)] = (
                slots,
                [(k, getter(kind, x, slots)) for k, kind, x in makers],
            )
        getters = found[1]
        return lambda row: {key: get(row) for key, get in getters}

    def shape(row: Sequence[Any], slots: Any) -> dict[str, Any]:
        return bind(slots)(row)

    shape.bind = bind  # type: ignore[attr-defined]
    return shape


def _bound(shape: Any, slots: Any) -> Callable[[Sequence[Any]], dict[str, Any]]:
    bound: Callable[[Sequence[Any]], dict[str, Any]] = shape.bind(slots)
    return bound


def _account_shape(
    collect: _Collector, selection: SelectionSetNode | None
) -> tuple[AccountPick, Callable[[Sequence[Any], AccountSlots], dict[str, Any]]]:
    columns: set[str] = set()
    follows = False
    makers: list[tuple[str, str, Any]] = []
    for key, node in collect.fields(selection, "Account"):
        name = node.name.value
        if name == "__typename":
            makers.append((key, "const", "Account"))
            continue
        _no_arguments(node)
        if name == "id":
            makers.append((key, "id", None))
        elif name in ACCOUNT_SCALARS:
            columns.add(ACCOUNT_SCALARS[name])
            makers.append((key, "column", ACCOUNT_SCALARS[name]))
        elif name == "viewerFollows":
            follows = True
            makers.append((key, "follows", None))
        else:
            raise NotCompiled(f"Account.{name}")

    def getter(kind: str, extra: Any, slots: AccountSlots) -> Callable[[Sequence[Any]], Any]:
        if kind == "column":
            index = slots.columns[extra]
            if extra in DATETIMES:
                return lambda row: _datetime(row[index])
            return lambda row: row[index]
        if kind == "id":
            return lambda row: global_id("Account", row[slots.id])
        if kind == "const":
            return lambda row: extra
        follows = slots.viewer_follows
        assert follows is not None
        return lambda row: bool(row[follows])

    shape = _shaper(makers, getter)
    return AccountPick(frozenset(columns), follows), shape


def _page(
    collect: _Collector, node: FieldNode, source: Source, arguments: Mapping[str, Argument]
) -> Page:
    first = _require(arguments, "first")
    after = arguments.get("after", Argument(None, None))
    if set(arguments) - {"first", "after"}:
        raise NotCompiled("arguments")
    pick = PostPick()
    node_shape: Callable[[Sequence[Any], PostSlots], dict[str, Any]] | None = None
    makers: list[tuple[str, str, Any]] = []
    for key, field_node in collect.fields(node.selection_set, "PostConnection"):
        name = field_node.name.value
        if name == "__typename":
            makers.append((key, "const", "PostConnection"))
        elif name == "edges":
            edge_makers: list[tuple[str, str]] = []
            for edge_key, edge_node in collect.fields(field_node.selection_set, "PostEdge"):
                edge_name = edge_node.name.value
                if edge_name == "node":
                    if node_shape is not None:
                        raise NotCompiled("node twice")
                    pick, node_shape = _post_shape(collect, edge_node.selection_set, 0)
                elif edge_name not in ("cursor", "__typename"):
                    raise NotCompiled(f"PostEdge.{edge_name}")
                edge_makers.append((edge_key, edge_name))
            makers.append((key, "edges", edge_makers))
        elif name == "pageInfo":
            info = [
                (k, n.name.value) for k, n in collect.fields(field_node.selection_set, "PageInfo")
            ]
            for _, info_name in info:
                if info_name not in (
                    "hasNextPage",
                    "hasPreviousPage",
                    "startCursor",
                    "endCursor",
                    "__typename",
                ):
                    raise NotCompiled(f"PageInfo.{info_name}")
            makers.append((key, "page_info", info))
        else:
            raise NotCompiled(f"PostConnection.{name}")

    def shape(rows: list[Sequence[Any]], slots: PostSlots, has_next: bool) -> dict[str, Any]:
        cursors = [encode_cursor(row[slots.id]) for row in rows]
        node_of = None if node_shape is None else _bound(node_shape, slots)
        out: dict[str, Any] = {}
        for key, kind, extra in makers:
            if kind == "const":
                out[key] = extra
            elif kind == "edges":
                edges = []
                for row, cursor in zip(rows, cursors, strict=True):
                    edge: dict[str, Any] = {}
                    for edge_key, edge_name in extra:
                        if edge_name == "cursor":
                            edge[edge_key] = cursor
                        elif edge_name == "__typename":
                            edge[edge_key] = "PostEdge"
                        else:
                            assert node_of is not None
                            edge[edge_key] = node_of(row)
                    edges.append(edge)
                out[key] = edges
            else:
                info: dict[str, Any] = {}
                for info_key, info_name in extra:
                    info[info_key] = {
                        "hasNextPage": has_next,
                        "hasPreviousPage": False,
                        "startCursor": cursors[0] if cursors else None,
                        "endCursor": cursors[-1] if cursors else None,
                        "__typename": "PageInfo",
                    }[info_name]
                out[key] = info
        return out

    return Page(source, pick, first, after, shape)


def _single(collect: _Collector, node: FieldNode, type_name: str) -> Single:
    """A root post or account: its own fields, and its list if it asks for one."""
    list_name, source = (
        ("thread", Source.THREAD) if type_name == "Post" else ("posts", Source.ACCOUNT)
    )
    fields = collect.fields(node.selection_set, type_name)
    listed = [(k, n) for k, n in fields if n.name.value == list_name]
    if len(listed) > 1:
        raise NotCompiled("the list twice")
    page = None
    page_key = None
    if listed:
        page_key, list_node = listed[0]
        page = _page(collect, list_node, source, _arguments(list_node))
    rest = SelectionSetNode(selections=tuple(n for k, n in fields if n.name.value != list_name))
    if type_name == "Post":
        post_pick, post_shape = _post_shape(collect, rest, 0)
        if page is not None:
            post_pick = PostPick(
                post_pick.columns | {"thread_root_id"}, post_pick.author, post_pick.repost_of,
                post_pick.reply_to, post_pick.viewer_has_liked, post_pick.reply_count,
            )  # fmt: skip
        pick: PostPick | AccountPick = post_pick
        own: Callable[[Sequence[Any], Any], dict[str, Any]] = post_shape
    else:
        pick, own = _account_shape(collect, rest)

    order = [k for k, _ in fields]

    def shape(row: Sequence[Any], slots: Any, listed_answer: Any) -> dict[str, Any]:
        mine = own(row, slots)
        if page_key is None:
            return mine
        mine[page_key] = listed_answer
        return {k: mine[k] for k in order}

    return Single(type_name, pick, shape, page, page_key)


def first_and_after(page: Page, variables: Mapping[str, Any]) -> tuple[int, int | None]:
    """The page's size and keyset position, or StepAside for what the general path refuses."""
    first = page.first.value(variables)
    after = page.after.value(variables)
    if not isinstance(first, int) or isinstance(first, bool):
        raise StepAside("first")
    try:
        check_first(first)
        return first, decode_cursor(after)
    except BadUserInput as err:
        raise StepAside(str(err)) from err


def node_key(plan: Plan, variables: Mapping[str, Any]) -> tuple[str, int]:
    """The type and key of a `post` or `node` root's id (StepAside when malformed)."""
    assert plan.argument is not None
    value = plan.argument.value(variables)
    if not isinstance(value, str):
        raise StepAside("id")
    try:
        return parse_id_argument(value, "Post" if plan.root == "post" else None, "id")
    except BadUserInput as err:
        raise StepAside(str(err)) from err


LIVE_ROOTS: Mapping[str, Source] = {"homeTimeline": Source.HOME, "publicFeed": Source.PUBLIC}


@dataclass(eq=False)
class LivePlan:
    """A `homeTimeline` or `publicFeed` subscription whose events are shaped once for every
    subscriber of the same document (`models/timeline/shared.py`): `text` is the `next`
    message's payload for one view of an event's post."""

    root_key: str
    source: Source
    read: lean.LiveRead
    fields: list[tuple[str, str]]  # TimelineEvent's response keys: cursor, post, __typename
    post: Callable[[Sequence[Any]], dict[str, Any]]

    def shape(self, row: Sequence[Any], seq: int) -> str:
        """`text` for the event `seq` (what `models.timeline.shared.LiveReads` calls once
        per distinct view)."""
        return self.text(row, encode_cursor(seq, kind=EVENT_CURSOR))

    def text(self, row: Sequence[Any], cursor: str) -> str:
        event: dict[str, Any] = {}
        for key, name in self.fields:
            if name == "cursor":
                event[key] = cursor
            elif name == "post":
                event[key] = self.post(row)
            else:
                event[key] = "TimelineEvent"
        return orjson.dumps({"data": {self.root_key: event}}).decode()


def compile_subscription(document: DocumentNode, operation_name: str | None) -> LivePlan | None:
    """The live plan of a validated subscription, or None if its events are not ones a plan
    shapes (another root field, a field a plan has no column for, a directive): those run
    through the general executor for each subscriber."""
    try:
        return _compile_live(document, operation_name)
    except NotCompiled:
        return None


def _compile_live(document: DocumentNode, name: str | None) -> LivePlan:
    _, collect, root_key, node = _one_root(document, name, OperationType.SUBSCRIPTION)
    source = LIVE_ROOTS.get(node.name.value)
    if source is None or set(_arguments(node)) - {"after"}:
        raise NotCompiled(node.name.value)
    fields: list[tuple[str, str]] = []
    pick: PostPick | None = None
    shape: Any = None
    for key, child in collect.fields(node.selection_set, "TimelineEvent"):
        name = child.name.value
        if name == "post":
            _no_arguments(child)
            pick, shape = _post_shape(collect, child.selection_set, 0)
        elif name == "cursor":
            _no_arguments(child)
        elif name != "__typename":
            raise NotCompiled(f"TimelineEvent.{name}")
        fields.append((key, name))
    read = lean.live_read(pick or PostPick(), source)
    post = _bound(shape, read.slots) if shape is not None else (lambda row: {})
    return LivePlan(root_key, source, read, fields, post)
