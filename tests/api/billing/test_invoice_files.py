"""GET /billing/invoices/{id}.pdf|.html and /billing/credit-notes/{id}.pdf|.html: the owner
downloads; a billing admin with a proved second factor too (audited); anyone else, and any
bad id, gets 404; no token gets 401."""

from __future__ import annotations

import re
import zlib

import httpx
import pytest

from app.runtime import Services
from models.billing import refunds
from models.billing.ledger import Invoice
from tests.support.accounts import sign_up
from tests.support.audit import audit_entries
from tests.support.billing import (
    Subscriber,
    actor_for,
    billing_of,
    localstripe_settings,  # noqa: F401 - `settings`
    paid_subscriber,
)
from tests.support.graphql import GraphQLClient
from tests.support.staff import grant, make_staff
from tests.support.stripe import LocalStripe

UPDATE_PROFILE = """
mutation Update($input: UpdateProfileInput!) {
  updateProfile(input: $input) { __typename }
}
"""


def pdf_text(body: bytes) -> str:
    """The text drawn on the PDF's pages (fpdf2 deflates each content stream)."""
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", body, re.S)
    return "".join(zlib.decompress(s).decode("latin-1") for s in streams)


async def download(
    http: httpx.AsyncClient, path: str, token: str | None, **headers: str
) -> httpx.Response:
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return await http.get(path, headers=headers)


async def invoice_number(services: Services, who: Subscriber) -> int:
    async with services.runtime.sessionmaker() as session:
        invoice = await session.get(Invoice, who.invoice_id)
    assert invoice is not None and invoice.number is not None
    return invoice.number


async def test_the_owner_downloads_the_invoice_as_html_and_pdf(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services, localstripe: LocalStripe
) -> None:
    who = await paid_subscriber(services, gql, localstripe, "owner", country="DE")
    number = await invoice_number(services, who)

    page = await download(http, f"/billing/invoices/{who.invoice_id}.html", who.user.token)
    pdf = await download(http, f"/billing/invoices/{who.invoice_id}.pdf", who.user.token)

    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-disposition"] == (
        f'attachment; filename="chirp-invoice-{number}.html"'
    )
    assert page.headers["cache-control"] == "private, no-store"
    html = page.text
    assert f"Invoice {number}" in html
    # Plus monthly in USD is $5.00; Germany's 19 % tax on top makes $5.95.
    for shown in ("$5.00", "Tax (19%, DE)", "$0.95", "$5.95", "Paid", "owner@example.com"):
        assert shown in html, shown
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == (
        f'attachment; filename="chirp-invoice-{number}.pdf"'
    )
    assert pdf.content.startswith(b"%PDF")
    text = pdf_text(pdf.content)
    for shown in (f"Invoice {number}", "USD 5.00", "USD 0.95", "USD 5.95", "Paid"):
        assert shown in text, shown


async def test_yen_amounts_have_no_decimals(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services, localstripe: LocalStripe
) -> None:
    who = await paid_subscriber(services, gql, localstripe, "yen", currency="JPY", country="JP")

    html = (await download(http, f"/billing/invoices/{who.invoice_id}.html", who.user.token)).text
    pdf = await download(http, f"/billing/invoices/{who.invoice_id}.pdf", who.user.token)

    # Plus monthly is ¥700; Japan's 10 % consumption tax makes ¥770.
    assert "¥700" in html and "¥770" in html
    assert "¥700." not in html and "¥770." not in html
    text = pdf_text(pdf.content)
    assert "JPY 700" in text and "JPY 770" in text
    assert "JPY 700." not in text and "JPY 770." not in text


async def test_another_user_gets_404_and_no_token_gets_401(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services, localstripe: LocalStripe
) -> None:
    who = await paid_subscriber(services, gql, localstripe, "private")
    stranger = await sign_up(gql, "stranger")

    for extension in ("pdf", "html"):
        path = f"/billing/invoices/{who.invoice_id}.{extension}"
        assert (await download(http, path, stranger.token)).status_code == 404
        anonymous = await download(http, path, None)
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == "Bearer"
        assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert (await download(http, path, "not-a-token")).status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/billing/invoices/abc.pdf",
        "/billing/invoices/0.pdf",
        "/billing/invoices/-1.pdf",
        "/billing/invoices/1.txt",
        "/billing/invoices/1",
        "/billing/invoices/1.pdf.pdf",
        "/billing/invoices/%C2%B2.pdf",
        "/billing/invoices/99999999999999999999.pdf",
        "/billing/invoices/9223372036854775807.pdf",
        "/billing/credit-notes/%00.html",
        "/billing/credit-notes/424242.html",
    ],
)
async def test_a_bad_or_unknown_id_is_404(
    http: httpx.AsyncClient, gql: GraphQLClient, path: str
) -> None:
    user = await sign_up(gql, "prober")

    response = await download(http, path, user.token)

    assert response.status_code == 404


async def test_a_billing_admin_with_a_second_factor_downloads_and_is_audited(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services, localstripe: LocalStripe
) -> None:
    who = await paid_subscriber(services, gql, localstripe, "customer")
    admin = await make_staff(gql, services, "books", "BILLING_ADMIN")
    path = f"/billing/invoices/{who.invoice_id}.pdf"

    response = await download(http, path, admin.token, **{"chirp-access-reason": "ticket 42"})
    await download(http, path, who.user.token)

    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    [entry] = await audit_entries(services, "read.invoice_file")
    assert (entry.actor_handle, entry.target_type, entry.target_id, entry.reason) == (
        "books",
        "invoice",
        str(who.invoice_id),
        "ticket 42",
    )


async def test_staff_without_a_proved_second_factor_or_the_role_get_404(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services, localstripe: LocalStripe
) -> None:
    who = await paid_subscriber(services, gql, localstripe, "guarded")
    no_totp = await sign_up(gql, "no_totp")
    await grant(services, "no_totp", "BILLING_ADMIN")
    moderator = await make_staff(gql, services, "mod", "MODERATOR")
    path = f"/billing/invoices/{who.invoice_id}.html"

    assert (await download(http, path, no_totp.token)).status_code == 404
    assert (await download(http, path, moderator.token)).status_code == 404
    assert await audit_entries(services, "read.invoice_file") == []


async def test_credit_notes_download_for_their_invoice_owner(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services, localstripe: LocalStripe
) -> None:
    who = await paid_subscriber(services, gql, localstripe, "refunded")
    staff = await make_staff(gql, services, "refunder", "BILLING_ADMIN")
    note = await refunds.refund_invoice(
        services.runtime.transactions,
        billing_of(services),
        actor=await actor_for(services, staff, "BILLING_ADMIN"),
        invoice_id=who.invoice_id,
        amount=125,
        reason="goodwill",
    )
    stranger = await sign_up(gql, "nosy")
    path = f"/billing/credit-notes/{note.id}"

    pdf = await download(http, f"{path}.pdf", who.user.token)
    html = await download(http, f"{path}.html", who.user.token)
    invoice_page = await download(http, f"/billing/invoices/{who.invoice_id}.html", who.user.token)

    assert pdf.status_code == 200
    assert pdf.headers["content-disposition"] == (
        f'attachment; filename="chirp-credit-note-{note.number}.pdf"'
    )
    assert f"Credit note {note.number}" in pdf_text(pdf.content)
    assert "USD 1.25" in pdf_text(pdf.content)
    assert html.status_code == 200 and "$1.25" in html.text
    assert "goodwill" not in html.text  # staff's reason stays internal
    assert f"Credit note {note.number} of" in invoice_page.text
    assert "$1.25" in invoice_page.text
    assert (await download(http, f"{path}.pdf", stranger.token)).status_code == 404
    assert (await download(http, f"{path}.html", None)).status_code == 401


async def test_what_people_type_is_escaped_in_html_and_safe_in_pdf(
    http: httpx.AsyncClient, gql: GraphQLClient, services: Services, localstripe: LocalStripe
) -> None:
    who = await paid_subscriber(services, gql, localstripe, "mallory")
    name = "<script>alert(1)</script> Zoë 🐦"
    updated = await gql.execute(
        UPDATE_PROFILE, {"input": {"displayName": name}}, token=who.user.token
    )
    assert updated["updateProfile"]["__typename"] == "ProfilePayload"

    html = await download(http, f"/billing/invoices/{who.invoice_id}.html", who.user.token)
    pdf = await download(http, f"/billing/invoices/{who.invoice_id}.pdf", who.user.token)

    assert "<script>" not in html.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Zoë 🐦" in html.text
    assert html.headers["content-security-policy"].startswith("default-src 'none'")
    assert pdf.status_code == 200
    assert "Zo\xeb ?" in pdf_text(pdf.content)
