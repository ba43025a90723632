"""Invoice and credit note downloads: GET /billing/invoices/{id}.pdf (or .html) and
/billing/credit-notes/{id}.pdf (or .html), with the session token /graphql takes.

The owner may download; so may a BILLING_ADMIN whose session proved a second factor, and each
such read is audited. Anyone else, and any id that is malformed, unknown or a draft, gets 404:
a document the viewer may not see does not exist for them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from models.access.roles import Role
from models.billing import documents
from resolvers.context import Context, Runtime
from resolvers.staff import audit_read, audit_refusal

MEDIA_TYPES = {"pdf": "application/pdf", "html": "text/html; charset=utf-8"}
# The largest id a BIGINT column holds: a longer one is simply unknown.
MAX_ID = 2**63 - 1
HEADERS = {
    "cache-control": "private, no-store",
    "x-content-type-options": "nosniff",
    # The HTML is a self-contained page: no scripts, nothing fetched.
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'",
}


def routes(runtime: Runtime) -> list[Route]:
    return [
        Route("/billing/invoices/{ref}", _endpoint(runtime, "invoice"), methods=["GET"]),
        Route("/billing/credit-notes/{ref}", _endpoint(runtime, "credit_note"), methods=["GET"]),
    ]


def parse_ref(ref: str) -> tuple[int, str] | None:
    """ "12.pdf" -> (12, "pdf"); None for anything else."""
    stem, dot, extension = ref.rpartition(".")
    if not dot or extension not in MEDIA_TYPES:
        return None
    if not (stem.isascii() and stem.isdigit()) or len(stem) > 19:
        return None
    number = int(stem)
    return (number, extension) if 0 < number <= MAX_ID else None


def _endpoint(runtime: Runtime, kind: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        state = request.scope.get("state", {})
        ctx = Context(
            runtime=runtime,
            request=request,
            request_id=state.get("request_id", "-"),
            viewer=state.get("viewer"),
            session_id=state.get("session_id"),
            second_factor=state.get("second_factor", False),
        )
        if ctx.viewer is None:
            return _unauthenticated()
        parsed = parse_ref(request.path_params["ref"])
        if parsed is None:
            return _not_found()
        document_id, extension = parsed
        async with ctx.read() as session:
            if kind == "invoice":
                document = await documents.invoice_document(session, invoice_id=document_id)
            else:
                document = await documents.credit_note_document(session, credit_note_id=document_id)
        if document is None:
            return _not_found()
        if document.account_id != ctx.viewer.id:
            if Role.BILLING_ADMIN not in await ctx.roles():
                await audit_refusal(ctx, field=f"billing.{kind}_file", reason="NOT_OWNER")
                return _not_found()
            await audit_read(ctx, what=f"{kind}_file", target_type=kind, target_id=document_id)
        if extension == "pdf":
            body: bytes = await run_in_threadpool(documents.render_pdf, document)
        else:
            body = documents.render_html(document).encode()
        filename = f"{document.filename}.{extension}"
        return Response(
            body,
            media_type=MEDIA_TYPES[extension],
            headers={**HEADERS, "content-disposition": f'attachment; filename="{filename}"'},
        )

    return endpoint


def _not_found() -> Response:
    return PlainTextResponse("Not Found", status_code=404, headers=HEADERS)


def _unauthenticated() -> Response:
    """As /graphql answers: a body with the code, and a Bearer challenge."""
    return JSONResponse(
        {
            "errors": [
                {
                    "message": "Log in first: send `Authorization: Bearer <token>`.",
                    "extensions": {"code": "UNAUTHENTICATED"},
                }
            ]
        },
        status_code=401,
        headers={**HEADERS, "www-authenticate": "Bearer"},
    )
