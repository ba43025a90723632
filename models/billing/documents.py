"""Invoices and credit notes as documents a customer keeps: HTML (jinja2) and PDF (fpdf2).

Both formats render one `Document`, so they always show the same facts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache

from fpdf import FPDF
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.accounts.tables import Account
from models.billing import money
from models.billing.ledger import ISSUED, REVERSED, CreditNote, Invoice, InvoiceLine
from models.billing.tables import BillingCustomer

STATE_NAMES = {
    "draft": "Draft",
    "open": "Open",
    "paid": "Paid",
    "void": "Void",
    "uncollectible": "Uncollectible",
    ISSUED: "Issued",
    REVERSED: "Reversed: the refund failed, nothing was refunded",
}


@dataclass(frozen=True)
class Line:
    description: str
    period: str
    quantity: int
    amount: int


@dataclass(frozen=True)
class Document:
    """What an invoice or credit note shows; amounts in minor units of `currency`, formatted
    by each renderer (the PDF's core font has no € sign)."""

    kind: str
    title: str
    number: int
    account_id: int
    currency: str
    facts: tuple[tuple[str, str], ...]
    customer: tuple[str, ...]
    lines: tuple[Line, ...]
    totals: tuple[tuple[str, int], ...]
    notes: tuple[str, ...]
    # An invoice's credit notes: number, date issued, amount.
    credit_notes: tuple[tuple[int, str, int], ...] = ()

    @property
    def filename(self) -> str:
        return f"chirp-{self.kind}-{self.number}"


def _day(moment: datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d")


def _period(start: datetime, end: datetime) -> str:
    return f"{_day(start)} to {_day(end)}"


def _percent(basis_points: int) -> str:
    whole, part = divmod(basis_points, 100)
    return f"{whole}%" if not part else f"{whole}.{part:02d}".rstrip("0") + "%"


async def _customer(session: AsyncSession, account_id: int | None) -> tuple[str, ...]:
    # Detached or deleted (detach.py): the invoice keeps its tax country, not the person.
    if account_id is None or (account := await session.get(Account, account_id)) is None:
        return ("(closed account)",)
    billing = await session.get(BillingCustomer, account_id)
    lines = [account.display_name or account.handle, f"@{account.handle}", account.email]
    if billing is not None and billing.country:
        lines.append(f"Country: {billing.country}")
    return tuple(lines)


async def invoice_document(session: AsyncSession, *, invoice_id: int) -> Document | None:
    """The invoice as a document; None for an unknown id or a draft (it has no number)."""
    invoice = await session.get(Invoice, invoice_id)
    if invoice is None or invoice.number is None:
        return None
    rows = await session.scalars(
        select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id).order_by(InvoiceLine.id)
    )
    notes = await session.scalars(
        select(CreditNote)
        .where(CreditNote.invoice_id == invoice.id, CreditNote.status == ISSUED)
        .order_by(CreditNote.number)
    )
    facts = [
        ("Invoice number", str(invoice.number)),
        ("State", STATE_NAMES.get(invoice.status, invoice.status)),
        ("Issued", _day(invoice.finalized_at or invoice.created_at)),
        ("Period", _period(invoice.period_start, invoice.period_end)),
        ("Currency", invoice.currency),
    ]
    if invoice.paid_at is not None:
        facts.append(("Paid", _day(invoice.paid_at)))
    if invoice.voided_at is not None:
        facts.append(("Voided", _day(invoice.voided_at)))
    tax_label = f"Tax ({_percent(invoice.tax_rate_bp)}"
    tax_label += f", {invoice.tax_country})" if invoice.tax_country else ")"
    totals = [
        ("Subtotal", invoice.subtotal),
        ("Discount", -invoice.discount_total),
        (tax_label, invoice.tax_total),
        ("Total", invoice.total),
        ("Credit applied", -invoice.credit_applied),
        ("Amount due", invoice.amount_due),
        ("Amount paid", invoice.amount_paid),
        ("Amount refunded", invoice.amount_refunded),
    ]
    return Document(
        kind="invoice",
        title=f"Invoice {invoice.number}",
        number=invoice.number,
        account_id=invoice.account_id,
        currency=invoice.currency,
        facts=tuple(facts),
        customer=await _customer(session, invoice.account_id),
        lines=tuple(
            Line(r.description, _period(r.period_start, r.period_end), r.quantity, r.amount)
            for r in rows
        ),
        totals=tuple(totals),
        notes=(),
        credit_notes=tuple((n.number or 0, _day(n.issued_at), n.amount) for n in notes),
    )


async def credit_note_document(session: AsyncSession, *, credit_note_id: int) -> Document | None:
    """The credit note as a document; None for an unknown id or a refund not done yet. A
    reversed one (its refund failed later) keeps its number and says so."""
    note = await session.get(CreditNote, credit_note_id)
    if note is None or note.status not in (ISSUED, REVERSED) or note.number is None:
        return None
    invoice = await session.get(Invoice, note.invoice_id)
    assert invoice is not None
    return Document(
        kind="credit-note",
        title=f"Credit note {note.number}",
        number=note.number,
        account_id=invoice.account_id,
        currency=note.currency,
        facts=(
            ("Credit note number", str(note.number)),
            ("State", STATE_NAMES[note.status]),
            ("Issued", _day(note.issued_at or note.created_at)),
            ("Invoice", str(invoice.number)),
            ("Currency", note.currency),
        ),
        customer=await _customer(session, invoice.account_id),
        lines=(
            Line(
                f"Refund of invoice {invoice.number}",
                _period(invoice.period_start, invoice.period_end),
                1,
                note.amount,
            ),
        ),
        totals=(("Amount refunded", note.amount),),
        notes=("The amount is returned to the card that paid the invoice.",),
    )


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("models.billing", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )


def render_html(document: Document) -> str:
    """The document as a standalone HTML page (every value escaped)."""

    def shown(amount: int) -> str:
        return money.format_money(amount, document.currency)

    return _templates().get_template("document.html").render(doc=document, money=shown)


def _latin1(text: str) -> str:
    """The PDF's core font covers Latin-1 only: anything else (emoji, CJK) prints as '?'."""
    return text.encode("latin-1", "replace").decode("latin-1")


def _pdf_money(amount: int, currency: str) -> str:
    """ "USD 12.50", "-JPY 1,200": the ISO code, since the core font has no euro sign."""
    shown = money.format_money(abs(amount), currency).removeprefix(money.SYMBOLS[currency])
    return f"{'-' if amount < 0 else ''}{currency} {shown}"


def render_pdf(document: Document) -> bytes:
    """The document as a one-column A4 PDF in a core font (nothing embedded)."""
    pdf = FPDF(format="A4")
    pdf.set_title(_latin1(f"Chirp {document.title}"))
    pdf.set_author("Chirp")
    pdf.add_page()
    width = pdf.epw
    pdf.set_font("Helvetica", style="B", size=18)
    pdf.cell(width, 10, _latin1(f"Chirp - {document.title}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font("Helvetica", size=10)
    for label, value in document.facts:
        pdf.cell(45, 6, _latin1(label))
        pdf.cell(width - 45, 6, _latin1(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", style="B", size=10)
    pdf.cell(width, 6, "Billed to", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=10)
    for line in document.customer:
        pdf.cell(width, 6, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    with pdf.table(col_widths=(70, 55, 20, 35), text_align=("LEFT", "LEFT", "RIGHT", "RIGHT")) as t:
        t.row(("Description", "Period", "Qty", "Amount"))
        for item in document.lines:
            t.row(
                (
                    _latin1(item.description),
                    item.period,
                    str(item.quantity),
                    _pdf_money(item.amount, document.currency),
                )
            )
    pdf.ln(4)
    for label, amount in document.totals:
        pdf.cell(width - 45, 6, _latin1(label), align="R")
        pdf.cell(45, 6, _pdf_money(amount, document.currency), align="R")
        pdf.ln(6)
    pdf.ln(4)
    for number, day, amount in document.credit_notes:
        refunded = _pdf_money(amount, document.currency)
        pdf.cell(width, 6, f"Credit note {number} of {day}: {refunded} refunded.")
        pdf.ln(6)
    for note in document.notes:
        pdf.multi_cell(width, 6, _latin1(note))
    return bytes(pdf.output())
