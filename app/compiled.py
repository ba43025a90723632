"""Compiled operations over HTTP: the fast path for the reads users make all day.

`CompiledOperations` sits where the general path's bearer authentication starts. For a
`POST` (JSON body) or `GET` (query string) to /graphql whose document compiles
(`schema/compiled.py`: timelines, a post and its thread, an account and its posts, `node`),
it answers the request itself:

1. the document's plan comes from a bounded cache keyed by its text (compiled once: parsed
   and validated with the general path's rules and limits first);
2. its variables and arguments are checked; anything the general path would refuse makes the
   plan step aside, and the general path answers with its own error;
3. the bearer token: a session cache (digest → account and session) saves the lookup, and the
   operation's first statement re-checks that session (`models.timeline.lean.session_alive`),
   so a revoked, expired or suspended session is refused (401) as the general path refuses
   it, never served from the cache;
4. the same admission as the general path: the static cost (`schema/core/cost.py`), the
   per-address request limit and the client's query budget, charged together in one Redis
   round trip (the request limit alone first, when a cold cache would cost work: a new
   document, a session not cached);
5. one lean statement per list (`models/timeline/lean.py`), with no ORM instances and no
   transaction statements: asyncpg on PostgreSQL, a plain connection on SQLite;
6. the response shaped directly and encoded with orjson, with `extensions.cost`, the same
   operation metrics, access-line summary, slow-operation log and span as the general path;
   an anonymous GET's answer is cacheable (`Cache-Control: public`, ETag, 304).

It also speaks automatic persisted queries (a document named by its SHA-256 alone) for every
request, and counts every /graphql request against its address (`requests.ip`). Anything
else (another document, a malformed body, a token it cannot place) goes on to the general
path unchanged. COMPILED_OPERATIONS=false turns the plans off (persisted queries and the
request limit stay)."""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import orjson
from graphql import GraphQLError, GraphQLSchema, parse, validate
from graphql.language import Source
from graphql.validation import specified_rules
from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.middleware import bearer_token, unauthenticated
from app.request_limits import REQUESTS_IP, refused_request
from app.sockets import too_many
from models.accounts import validation
from models.accounts.passwords import token_digest
from models.outages import overloaded, unavailable
from models.throttle import Hit, RateLimited, ip_group
from models.timeline import lean
from models.timeline.reader import Reader
from resolvers import budget
from resolvers.context import Runtime
from schema import compiled
from schema.compiled import Plan, StepAside
from schema.core.admission import over_budget
from schema.core.cost import CostModel
from schema.core.extensions import OVERLOADED_RETRY_SECONDS, failure
from schema.core.observe import CompiledWatch

log = logging.getLogger("chirp.compiled")

GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON = "application/json"
PLANS = 1024  # documents whose plan (or whose lack of one) is kept
SESSIONS = 10_000  # sessions kept in the cache
SESSION_TTL = 60.0  # seconds a cached session is kept before it is looked up again
_NONE = object()
NO_STORE = b"no-store"
COUNTED = "chirp_request_counted"  # scope state: requests.ip already counted
VARY = b"Accept, Authorization"
PERSISTED = 10_000  # persisted documents kept per process
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True, slots=True)
class _Refusal:
    code: str
    message: str
    status: int


# Apollo's automatic persisted queries: the codes and messages its clients look for.
PERSISTED_QUERY_NOT_FOUND = _Refusal("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound", 200)
PERSISTED_QUERY_HASH_MISMATCH = _Refusal(
    "PERSISTED_QUERY_HASH_MISMATCH", "The document's SHA-256 is not the hash sent with it.", 400
)


class PersistedQueries:
    """Documents by SHA-256, as clients sent them (automatic persisted queries), newest kept:
    at most PERSISTED per process, each at most MAX_QUERY_LENGTH characters (longer ones are
    refused before they are stored, as any document is)."""

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length
        self._documents: OrderedDict[str, str] = OrderedDict()

    def get(self, digest: str) -> str | None:
        found = self._documents.get(digest)
        if found is not None:
            self._documents.move_to_end(digest)
        return found

    def put(self, digest: str, document: str) -> None:
        if len(document) > self.max_length:
            return
        self._documents[digest] = document
        self._documents.move_to_end(digest)
        while len(self._documents) > PERSISTED:
            self._documents.popitem(last=False)


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The viewer as the access line reads it (`state["viewer"].id`)."""

    id: int


@dataclass(frozen=True, slots=True)
class CachedSession:
    account_id: int
    session_id: int
    until: float  # time.monotonic() when it must be looked up again


class Sessions:
    """Bearer-token digests to their session, for at most SESSION_TTL seconds. Never trusted
    alone: every operation that uses an entry re-checks the session in its first statement."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, CachedSession] = OrderedDict()

    def get(self, digest: str) -> CachedSession | None:
        entry = self._entries.get(digest)
        if entry is None or entry.until < time.monotonic():
            return None
        return entry

    def put(self, digest: str, account_id: int, session_id: int) -> CachedSession:
        entry = self._entries[digest] = CachedSession(
            account_id, session_id, time.monotonic() + SESSION_TTL
        )
        self._entries.move_to_end(digest)
        while len(self._entries) > SESSIONS:
            self._entries.popitem(last=False)
        return entry

    def drop(self, digest: str) -> None:
        self._entries.pop(digest, None)


class CompiledOperations:
    def __init__(
        self,
        app: ASGIApp,
        runtime: Runtime,
        reader: Reader,
        schema: GraphQLSchema,
        rules: Sequence[Any],
        cost_model: CostModel,
        max_cost: int,
        max_tokens: int,
        slow_operation_ms: int,
        enabled: bool = True,
    ) -> None:
        self.app = app
        # False (COMPILED_OPERATIONS=false): only persisted queries and the request limit.
        self.enabled = enabled
        self.runtime = runtime
        self.schema = schema
        self.rules = list(rules)
        self.cost_model = cost_model
        self.max_cost = max_cost
        self.max_tokens = max_tokens
        self.slow_seconds = slow_operation_ms / 1000
        self.max_query_length = runtime.settings.max_query_length
        self.plans: OrderedDict[tuple[str, str | None], Plan | None] = OrderedDict()
        self.sessions = Sessions()
        self.persisted = PersistedQueries(self.max_query_length)
        self.cache_seconds = runtime.settings.anonymous_cache_seconds
        self.reader = reader

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        if scope["type"] != "http" or scope["path"] != "/graphql":
            return self.app(scope, receive, send)
        return self._http(scope, receive, send)

    async def _general(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The general path, after the per-address request limit (unless this request was
        already counted)."""
        counted = scope.get("state", {}).get(COUNTED)
        if counted or not await refused_request(self.runtime, scope, receive, send):
            await self.app(scope, receive, send)

    async def _count_first(self, scope: Scope, send: Send) -> bool:
        """Count the request against its address now, before work a plan cache or session
        cache miss costs (parsing, validating, a session lookup), so an address over its
        limit costs none of it. True when it was refused (and answered 429)."""
        state = scope.setdefault("state", {})
        if state.get(COUNTED):
            return False
        state[COUNTED] = True
        return await refused_request(self.runtime, scope, _no_body, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method == "GET":
            request, replay = _from_query_string(scope), receive
        elif method == "POST":
            body, given = await _read_body(receive)
            if given is None:  # the client went away
                return
            request, replay = _from_body(scope, body), given
        else:
            await self._general(scope, receive, send)
            return
        if request is not None and not self.enabled and _persisted_hash(request) is None:
            request = None  # compiled operations are off: nothing for this middleware to do
        if request is not None and _persisted_hash(request) is not None:
            found = await self._persisted(scope, request, replay, send)
            if found is None:
                return  # answered: not found, or a hash that does not match
            scope, replay = found
        try:
            answered = (
                request is not None and self.enabled and await self._compiled(scope, request, send)
            )
        except StepAside:
            answered = False
            scope.get("state", {}).pop("viewer", None)
        if not answered:
            await self._general(scope, replay, send)

    async def _persisted(
        self, scope: Scope, request: dict[str, Any], replay: Receive, send: Send
    ) -> tuple[Scope, Receive] | None:
        """Automatic persisted queries (Apollo's protocol): a request that names its document
        by SHA-256 alone gets the document this process stored for it, or
        PERSISTED_QUERY_NOT_FOUND (the client then sends both, which stores it). The request
        is rewritten with its document, so the general path sees a plain request. None when
        the request was answered here."""
        digest = _persisted_hash(request)
        assert digest is not None
        query = request.get("query")
        if isinstance(query, str):
            if hashlib.sha256(query.encode()).hexdigest() != digest.lower():
                await self._refuse(scope, replay, send, PERSISTED_QUERY_HASH_MISMATCH)
                return None
            self.persisted.put(digest.lower(), query)
            return scope, replay
        stored = self.persisted.get(digest.lower())
        if stored is None:
            await self._refuse(scope, replay, send, PERSISTED_QUERY_NOT_FOUND)
            return None
        request["query"] = stored
        if scope["method"] == "GET":
            params = dict(QueryParams(scope["query_string"]))
            params["query"] = stored
            return {**scope, "query_string": urlencode(params).encode()}, replay
        return scope, _replaying(orjson.dumps(request), replay)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, refusal: _Refusal) -> None:
        """A persisted-query answer, after the per-address request limit like any other."""
        if await self._count_first(scope, send):
            return
        payload = {"errors": [{"message": refusal.message, "extensions": {"code": refusal.code}}]}
        await _respond(send, JSON, payload, refusal.status, cache=NO_STORE)

    def _plan(self, query: str, name: str | None) -> Plan | None:
        key = (query, name)
        found = self.plans.get(key, _NONE)
        if found is _NONE:
            found = self._compile(query, name)
            self.plans[key] = found  # type: ignore[assignment]
            while len(self.plans) > PLANS:
                self.plans.popitem(last=False)
        else:
            self.plans.move_to_end(key)
        return found  # type: ignore[return-value]

    def _compile(self, query: str, name: str | None) -> Plan | None:
        if len(query) > self.max_query_length:
            return None
        try:
            document = parse(Source(query), max_tokens=self.max_tokens)
        except GraphQLError:
            return None
        if validate(self.schema, document, [*specified_rules, *self.rules]):
            return None
        return compiled.compile_operation(self.schema, document, name)

    async def _compiled(self, scope: Scope, request: dict[str, Any], send: Send) -> bool:
        """Answer the request if its document has a plan; False to hand it on."""
        headers = Headers(scope=scope)
        query, name = request.get("query"), request.get("operationName")
        variables = request.get("variables")
        if not isinstance(query, str) or not (name is None or isinstance(name, str)):
            return False
        if not (variables is None or isinstance(variables, dict)):
            return False
        if (query, name) not in self.plans and await self._count_first(scope, send):
            return True
        plan = self._plan(query, name)
        if plan is None:
            return False
        coerced = plan.variables(self.schema, variables)
        analysis = plan.analysis(self.cost_model, variables)
        if analysis is None or analysis.errors or analysis.cost > self.max_cost:
            return False  # the general path gives the error
        state = scope.setdefault("state", {})
        authorization = headers.get("authorization")
        token = bearer_token(authorization)
        viewer: CachedSession | None = None
        fresh = False
        digest = ""
        if token is not None:
            if not token:
                return False
            digest = token_digest(token)
            viewer = self.sessions.get(digest)
            if viewer is None:
                if await self._count_first(scope, send):
                    return True
                viewer = await self._authenticate(digest)
                if viewer is None:
                    return False  # the general path answers 401
                fresh = True
        elif plan.needs_viewer:
            return False  # UNAUTHENTICATED, from the general path
        return await self._answer(
            scope, send, plan, coerced, analysis.cost, viewer, fresh, digest, state, headers
        )

    async def _admit(
        self, state: dict[str, Any], account_id: int | None, cost: int
    ) -> budget.Charge | RateLimited:
        """The per-address request limit and the client's query budget, in one round trip
        (`Throttle.admit_together`): the charge, or the refusal (nothing counted)."""
        throttle = self.runtime.throttle
        group = ip_group(state.get("client_ip", ""))
        rule, key = await budget.rule_for(
            throttle=throttle,
            plans=self.runtime.budgets,
            sessionmaker=self.runtime.read_sessionmaker,
            account_id=account_id,
            ip_group=group,
        )
        counted = bool(state.get(COUNTED))
        state[COUNTED] = True
        hits = [] if counted else [Hit(REQUESTS_IP, (group,))]
        if rule is not None:
            hits.append(Hit(rule, (key,), cost))
        if not hits:
            return budget.Charge(cost, self.max_cost)
        verdicts = await throttle.admit_together(hits)
        for hit, verdict in zip(hits, verdicts, strict=True):
            if not verdict.allowed:
                if hit.rule != REQUESTS_IP and not counted:
                    # Refused by the budget alone: the request still counts against its
                    # address, as on the general path (which counts it first).
                    await throttle.admit(REQUESTS_IP, group)
                return throttle.refusal(hit.rule, verdict)
        if rule is None:
            return budget.Charge(cost, self.max_cost)
        return budget.charged(cost, self.max_cost, verdicts[-1])

    async def _authenticate(self, digest: str) -> CachedSession | None:
        rows = await self.reader.fetch(
            lean.token_read(), {"digest": digest, "now": datetime.now(UTC)}
        )
        return None if not rows else self.sessions.put(digest, rows[0][0], rows[0][1])

    async def _answer(
        self,
        scope: Scope,
        send: Send,
        plan: Plan,
        variables: dict[str, Any],
        cost: int,
        viewer: CachedSession | None,
        fresh: bool,
        digest: str,
        state: dict[str, Any],
        headers: Headers,
    ) -> bool:
        request_id = state.get("request_id", "-")
        watch = CompiledWatch()
        account_id = None if viewer is None else viewer.account_id
        if account_id is not None:
            state["viewer"] = SignedIn(account_id)
        media = GRAPHQL_RESPONSE if GRAPHQL_RESPONSE in headers.get("accept", "") else JSON
        reads = _Reads(self.reader, viewer, check_session=not fresh)
        try:
            # Checked before anything is charged: a bad argument is the general path's.
            prepared = _prepare(plan, variables)
            refused = await self._admit(state, account_id, cost)
            if isinstance(refused, RateLimited):
                if refused.rule == REQUESTS_IP:
                    watch.cancel()
                    await too_many(refused)(scope, _no_body, send)
                    return True
                # A cached session is confirmed first: a dead one is told to log in again.
                await reads.confirm()
                error = over_budget(refused)
                watch.finish(plan, state, [error], self.slow_seconds)
                refusal = {
                    "errors": [error.formatted],
                    "extensions": {"cost": budget.Charge(cost, self.max_cost).extensions()},
                }
                await _respond(send, media, refusal, 429, retry_after=refused.retry_after)
                return True
            charge = refused
            data = await _run(plan, prepared, reads)
        except StepAside:
            watch.cancel()
            raise
        except _SessionEnded:
            self.sessions.drop(digest)
            watch.cancel()
            state.pop("viewer", None)
            await unauthenticated(send)  # as BearerAuth answers it
            return True
        except Exception as exc:
            error = failure(request_id, exc, "compiled operation")
            watch.finish(plan, state, [error], self.slow_seconds)
            failed = {"data": None, "errors": [error.formatted]}
            if overloaded(exc) or unavailable(exc):  # 503 and when to come back
                await _respond(send, media, failed, 503, retry_after=OVERLOADED_RETRY_SECONDS)
            else:
                await _respond(send, media, failed, 200)
            return True
        watch.finish(plan, state, [], self.slow_seconds)
        if scope["method"] == "GET" and viewer is None and self.cache_seconds > 0:
            # Shared caches may keep it: no viewer, so nothing personal, and no budget
            # figures (they are the address's own).
            payload = {
                "data": {plan.root_key: data},
                "extensions": {"cost": budget.Charge(charge.cost, charge.max_cost).extensions()},
            }
            await _respond_cacheable(
                send, media, payload, self.cache_seconds, headers.get("if-none-match")
            )
            return True
        await _respond(
            send,
            media,
            {"data": {plan.root_key: data}, "extensions": {"cost": charge.extensions()}},
            200,
        )
        return True


class _SessionEnded(Exception):
    """The cached session was revoked, expired or suspended since it was cached."""


@dataclass
class _Prepared:
    """A request's arguments, checked."""

    first: int | None = None
    after: int | None = None
    type_name: str | None = None
    key: int | None = None
    handle_key: str | None = None
    list_first: int | None = None
    list_after: int | None = None


def _prepare(plan: Plan, variables: dict[str, Any]) -> _Prepared:
    prepared = _Prepared()
    if plan.page is not None:
        prepared.first, prepared.after = compiled.first_and_after(plan.page, variables)
        return prepared
    if plan.root == "account":
        assert plan.argument is not None
        handle = plan.argument.value(variables)
        if not isinstance(handle, str):
            raise StepAside("handle")
        prepared.type_name = "Account"
        if validation.HANDLE_RE.match(handle):
            prepared.handle_key = validation.handle_key(handle)
    else:
        prepared.type_name, prepared.key = compiled.node_key(plan, variables)
    single = plan.singles.get(prepared.type_name or "")
    if single is not None and single.page is not None:
        prepared.list_first, prepared.list_after = compiled.first_and_after(single.page, variables)
    return prepared


class _Reads:
    """The statements of one operation: the first one re-checks a cached session."""

    def __init__(
        self, reader: Reader, viewer: CachedSession | None, *, check_session: bool
    ) -> None:
        self.reader = reader
        self.viewer = viewer
        # True until a statement of this operation has re-checked the cached session.
        self.wants_check = viewer is not None and check_session
        self.values: dict[str, Any] = {"now": datetime.now(UTC)}
        if viewer is not None:
            self.values["viewer"] = viewer.account_id
            self.values["session"] = viewer.session_id

    @property
    def signed_in(self) -> bool:
        return self.viewer is not None

    async def fetch(self, read: lean.LeanRead, **values: Any) -> list[Sequence[Any]]:
        rows = await self.reader.fetch(read, {**self.values, **values})
        if read.alive is not None:
            if not rows:
                await self.confirm()
            elif not rows[0][read.alive]:
                raise _SessionEnded
            self.wants_check = False
        return rows

    async def confirm(self) -> None:
        """The session, checked on its own (a first statement that found no row)."""
        if not self.wants_check:
            return
        read = lean.session_read()
        rows = await self.reader.fetch(read, self.values)
        self.wants_check = False
        if not rows or not rows[0][0]:
            raise _SessionEnded


async def _page(
    page: compiled.Page, reads: _Reads, *, first: int, after: int | None, key: int | None
) -> Any:
    read = page.read(
        signed_in=reads.signed_in, after=after is not None, check_session=reads.wants_check
    )
    values: dict[str, Any] = {"limit": first + 1}
    if after is not None:
        values["before"] = after
    if key is not None:
        values["key"] = key
    rows = await reads.fetch(read, **values)
    return page.shape(rows[:first], read.slots, len(rows) > first)


async def _run(plan: Plan, prepared: _Prepared, reads: _Reads) -> Any:
    if plan.page is not None:
        assert prepared.first is not None
        return await _page(plan.page, reads, first=prepared.first, after=prepared.after, key=None)
    single = plan.singles.get(prepared.type_name or "")
    if single is None or (prepared.key is None and prepared.handle_key is None):
        await reads.confirm()
        return None
    by_handle = prepared.handle_key is not None
    read = single.read(
        signed_in=reads.signed_in, by_handle=by_handle, check_session=reads.wants_check
    )
    values: dict[str, Any] = (
        {"handle_key": prepared.handle_key} if by_handle else {"key": prepared.key}
    )
    rows = await reads.fetch(read, **values)
    if not rows:
        return None
    row = rows[0]
    listed = None
    if single.page is not None:
        assert prepared.list_first is not None
        if single.type_name == "Post":
            root = row[read.slots.columns["thread_root_id"]] or row[read.slots.id]
        else:
            root = row[read.slots.id]
        listed = await _page(
            single.page, reads, first=prepared.list_first, after=prepared.list_after, key=root
        )
    return single.shape(row, read.slots, listed)


async def _read_body(receive: Receive) -> tuple[bytes, Receive | None]:
    """The whole body, and a `receive` that gives it again to the next app."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"", None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _respond(
    send: Send,
    media: str,
    payload: dict[str, Any],
    status: int,
    *,
    retry_after: int | None = None,
    cache: bytes = NO_STORE,
) -> None:
    """An answer no shared cache may keep (personal, or a refusal)."""
    body = orjson.dumps(payload)
    headers = [
        (b"content-type", media.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", cache),
        (b"vary", VARY),
    ]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _respond_cacheable(
    send: Send, media: str, payload: dict[str, Any], seconds: int, if_none_match: str | None
) -> None:
    """An anonymous read over GET: `public, max-age`, a strong ETag of the body, and 304 when
    the client (or the cache in front) already holds it."""
    body = orjson.dumps(payload)
    tag = b'"' + hashlib.sha256(body).hexdigest()[:32].encode() + b'"'
    headers = [
        (b"content-type", media.encode()),
        (b"cache-control", f"public, max-age={seconds}".encode()),
        (b"vary", VARY),
        (b"etag", tag),
    ]
    if if_none_match is not None and tag.decode() in (t.strip() for t in if_none_match.split(",")):
        await send({"type": "http.response.start", "status": 304, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
        return
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _from_body(scope: Scope, body: bytes) -> dict[str, Any] | None:
    """A JSON request body as a dict; None for anything else (the general path answers it)."""
    media_type = Headers(scope=scope).get("content-type", "").partition(";")[0]
    if media_type.strip().lower() != "application/json":
        return None  # strawberry's own rule: anything else is the general path's answer
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return request if isinstance(request, dict) else None


def _from_query_string(scope: Scope) -> dict[str, Any] | None:
    """A GET's `query`, `operationName`, `variables` and `extensions` (the last two JSON)."""
    params = QueryParams(scope["query_string"])
    request: dict[str, Any] = {
        "query": params.get("query"),
        "operationName": params.get("operationName"),
    }
    try:
        for name in ("variables", "extensions"):
            if name in params:
                request[name] = orjson.loads(params[name])
    except orjson.JSONDecodeError:
        return None
    return request


def _persisted_hash(request: dict[str, Any]) -> str | None:
    """The SHA-256 an automatic persisted query names its document by, if any."""
    extensions = request.get("extensions")
    if not isinstance(extensions, dict):
        return None
    persisted = extensions.get("persistedQuery")
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        return None
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _SHA256.fullmatch(digest):
        return None
    return digest


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives `body` (a rewritten request) instead of the client's."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if not given:
            given = True
            await receive()  # the original body, already read: consumed from its replay
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
