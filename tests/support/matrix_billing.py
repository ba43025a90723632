"""Matrix calls for billing staff (BILLING_ADMIN) and revenue figures (ADMIN). The targets
do not exist or do not qualify, so an allowed call ends in a UserError and changes little."""

from __future__ import annotations

from typing import Any

from tests.support.matrix import Call, MatrixEnv, target_id

UNKNOWN_INVOICE = "SW52b2ljZTo5OTk5"  # Invoice:9999
UNKNOWN_COUPON = "Q291cG9uOjk5OTk="  # Coupon:9999
REASON = "matrix check"


def _mutation(name: str, input_type: str) -> str:
    return f"mutation ($input: {input_type}!) {{ {name}(input: $input) {{ __typename }} }}"


async def _coupon(env: MatrixEnv) -> dict[str, Any]:
    return {"input": {"name": "Matrix", "percentOff": 10, "duration": "ONCE", "reason": REASON}}


async def _promotion(env: MatrixEnv) -> dict[str, Any]:
    return {"input": {"couponId": UNKNOWN_COUPON, "code": "MATRIX", "reason": REASON}}


async def _price(env: MatrixEnv) -> dict[str, Any]:
    return {
        "input": {
            "planCode": "plus",
            "currency": "USD",
            "interval": "MONTH",
            "amount": 500,
            "reason": REASON,
        }
    }


async def _refund(env: MatrixEnv) -> dict[str, Any]:
    return {"input": {"invoiceId": UNKNOWN_INVOICE, "reason": REASON}}


async def _close(env: MatrixEnv) -> dict[str, Any]:
    return {"input": {"invoiceId": UNKNOWN_INVOICE, "reason": REASON}}


async def _usage(env: MatrixEnv) -> dict[str, Any]:
    return {
        "input": {
            "eventId": "matrix-1",
            "accountId": env.target.id,
            "meter": "api_calls",
            "quantity": 1,
            "occurredAt": "2026-01-01T00:00:00Z",
        }
    }


CALLS: dict[str, Call] = {
    "Account.billing": Call(
        "query ($id: ID!) { node(id: $id) { ... on Account { billing { currency } } } }",
        target_id,
        path=("node", "billing"),
    ),
    "Query.revenue": Call('{ revenue(currency: "USD") { mrr { amount } } }', path=("revenue",)),
    "Mutation.createCoupon": Call(
        _mutation("createCoupon", "CreateCouponInput"), _coupon, path=("createCoupon",)
    ),
    "Mutation.createPromotionCode": Call(
        _mutation("createPromotionCode", "CreatePromotionCodeInput"),
        _promotion,
        path=("createPromotionCode",),
    ),
    "Mutation.setPlanPrice": Call(
        _mutation("setPlanPrice", "SetPlanPriceInput"), _price, path=("setPlanPrice",)
    ),
    "Mutation.refundInvoice": Call(
        _mutation("refundInvoice", "RefundInvoiceInput"), _refund, path=("refundInvoice",)
    ),
    "Mutation.voidInvoice": Call(
        _mutation("voidInvoice", "CloseInvoiceInput"), _close, path=("voidInvoice",)
    ),
    "Mutation.markInvoiceUncollectible": Call(
        _mutation("markInvoiceUncollectible", "CloseInvoiceInput"),
        _close,
        path=("markInvoiceUncollectible",),
    ),
    "Mutation.recordUsage": Call(
        _mutation("recordUsage", "RecordUsageInput"), _usage, path=("recordUsage",)
    ),
}
