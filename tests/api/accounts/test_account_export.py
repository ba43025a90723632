"""exportAccounts: ADMIN only, CSV in chunks that join, formulas neutralised, every chunk
audited with its filter and row count, bad input refused."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from app.runtime import Services
from models.integrations.exports import COLUMNS
from tests.support.accounts import sign_up
from tests.support.graphql import GraphQLClient
from tests.support.staff import make_staff
from tests.support.webhooks import audit_entries

EXPORT = """
mutation ($input: ExportAccountsInput!) {
  exportAccounts(input: $input) {
    __typename
    ... on AccountExport { csv columns rowCount hasMore endCursor }
    ... on UserError { code field message }
  }
}
"""
UPDATE_PROFILE = """
mutation ($input: UpdateProfileInput!) { updateProfile(input: $input) { __typename } }
"""


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


async def test_an_admin_exports_accounts_in_chunks_that_join_into_one_file(
    gql: GraphQLClient, services: Services
) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")
    for handle in ("ann", "bob", "cat"):
        await sign_up(gql, handle)

    first = (
        await gql.execute(
            EXPORT, {"input": {"reason": "CRM import", "first": 2}}, token=admin.token
        )
    )["exportAccounts"]
    second = (
        await gql.execute(
            EXPORT,
            {"input": {"reason": "CRM import", "first": 2, "after": first["endCursor"]}},
            token=admin.token,
        )
    )["exportAccounts"]

    assert first["columns"] == list(COLUMNS)
    assert (first["rowCount"], first["hasMore"]) == (2, True)
    assert (second["rowCount"], second["hasMore"]) == (2, False)
    rows = _rows(first["csv"] + second["csv"])
    assert rows[0] == list(COLUMNS)
    assert [r[1] for r in rows[1:]] == ["boss", "ann", "bob", "cat"]
    assert rows[2][3] == "ann@example.com" and rows[2][0].startswith("QWNjb3VudD")
    assert first["csv"].endswith("\r\n")
    entries = await audit_entries(services, "accounts.export")
    assert [(e.reason, e.outcome) for e in entries] == [("CRM import", "ok")] * 2
    assert entries[0].after is not None and entries[0].after["rows"] == 2
    assert entries[0].after["filter"] == {
        "created_after": None,
        "created_before": None,
        "after_id": None,
        "first": 2,
    }
    assert entries[1].after is not None and entries[1].after["filter"]["after_id"] == 2


async def test_cells_a_spreadsheet_would_run_are_neutralised(
    gql: GraphQLClient, services: Services
) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")
    user = await sign_up(gql, "mallory")
    for name in ("=HYPERLINK(1)",):
        await gql.execute(UPDATE_PROFILE, {"input": {"displayName": name}}, token=user.token)

    result = (await gql.execute(EXPORT, {"input": {"reason": "audit list"}}, token=admin.token))[
        "exportAccounts"
    ]

    [row] = [r for r in _rows(result["csv"]) if r[1] == "mallory"]
    assert row[2] == "'=HYPERLINK(1)"


async def test_the_date_filter_is_applied_and_recorded(
    gql: GraphQLClient, services: Services
) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")
    await sign_up(gql, "ann")
    later = datetime.now(UTC) + timedelta(days=1)
    window = {"createdBefore": later.isoformat(), "createdAfter": "2020-01-01T00:00:00Z"}

    everyone = (
        await gql.execute(EXPORT, {"input": {"reason": "q1 report", **window}}, token=admin.token)
    )["exportAccounts"]
    nobody = (
        await gql.execute(
            EXPORT,
            {"input": {"reason": "q1 report", "createdAfter": later.isoformat()}},
            token=admin.token,
        )
    )["exportAccounts"]

    assert everyone["rowCount"] == 2
    assert (nobody["rowCount"], nobody["hasMore"], nobody["endCursor"]) == (0, False, None)
    assert _rows(nobody["csv"]) == [list(COLUMNS)]
    entries = await audit_entries(services, "accounts.export")
    assert entries[0].after is not None
    assert entries[0].after["filter"]["created_after"] == "2020-01-01T00:00:00+00:00"


BAD_INPUT: list[tuple[dict[str, object], str, str]] = [
    ({"reason": ""}, "REASON_REQUIRED", "reason"),
    ({"first": 0}, "INVALID_INPUT", "first"),
    ({"first": 1001}, "INVALID_INPUT", "first"),
    ({"after": "bm9wZQ=="}, "INVALID_INPUT", "after"),
    (
        {"createdAfter": "2026-02-01T00:00:00Z", "createdBefore": "2026-01-01T00:00:00Z"},
        "INVALID_DATE_RANGE",
        "createdBefore",
    ),
    ({"createdAfter": "2026-02-01T00:00:00"}, "INVALID_DATE_RANGE", "createdAfter"),
    ({"createdBefore": "9999-12-31T23:59:59-12:00"}, "INVALID_DATE_RANGE", "createdBefore"),
]


async def test_bad_input_is_refused(gql: GraphQLClient, services: Services) -> None:
    admin = await make_staff(gql, services, "boss", "ADMIN")

    for extra, code, field in BAD_INPUT:
        result = (
            await gql.execute(EXPORT, {"input": {"reason": "why not", **extra}}, token=admin.token)
        )["exportAccounts"]
        assert (result["code"], result["field"]) == (code, field), extra

    outcomes = [e.outcome for e in await audit_entries(services, "accounts.export")]
    assert (
        outcomes
        == ["refused:REASON_REQUIRED"]
        + ["refused:INVALID_INPUT"] * 2
        + ["refused:INVALID_DATE_RANGE"] * 3
    )


async def test_without_admin_the_export_is_forbidden(
    gql: GraphQLClient, services: Services
) -> None:
    callers = [
        await make_staff(gql, services, "helper", "SUPPORT"),
        await make_staff(gql, services, "auditor", "AUDITOR"),
        await sign_up(gql, "plain"),
    ]

    for caller in callers:
        errors = await gql.errors(EXPORT, {"input": {"reason": "curious"}}, token=caller.token)
        assert errors[0]["extensions"]["code"] == "FORBIDDEN", caller.handle

    assert await audit_entries(services, "accounts.export") == []
