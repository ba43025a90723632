"""The domains' registrations: every error code raised is declared by one domain and the
enum lists exactly those; job, sweep and loader names are unique and their settings exist;
every table is registered; an event calls for the same jobs as before registration."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import models
from app.jobs import jobs_for
from app.runtime import interval
from app.schema_compat import latest_release
from app.settings import Settings
from models.base import Base
from models.domains import DOMAINS, error_codes
from models.errors import TOP_LEVEL_CODES, DomainError
from models.events import actions as events
from models.integrations import catalogue
from models.mail import actions as mail
from models.tables import TABLE_MODULES
from schema.core.errors import ErrorCode
from subscriptions.events import LiveEvent

ROOT = Path(__file__).resolve().parents[2]


def _import_all_models() -> None:
    for info in pkgutil.walk_packages(models.__path__, "models."):
        importlib.import_module(info.name)


def _subclasses(cls: type[DomainError]) -> set[type[DomainError]]:
    found: set[type[DomainError]] = set()
    for sub in cls.__subclasses__():
        found |= {sub} | _subclasses(sub)
    return found


def _code_literals(folder: str) -> set[str]:
    """`code="..."` keyword arguments and `code = "..."` class attributes in a folder."""
    found: set[str] = set()
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.keyword) and node.arg == "code") or (
                isinstance(node, ast.Assign)
                and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["code"]
            ):
                value = node.value
            else:
                continue
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.add(value.value)
    return found


def test_every_code_raised_in_the_domain_is_declared_by_a_domain() -> None:
    _import_all_models()
    raised = {cls.code for cls in _subclasses(DomainError)} | {DomainError.code}
    raised |= _code_literals("models")

    assert raised - TOP_LEVEL_CODES - set(error_codes()) == set()


def test_codes_raised_above_the_domain_are_declared_too() -> None:
    # Top-level GraphQL error codes (`extensions.code`) are not ErrorCode values.
    raised = set()
    for folder in ("resolvers", "schema", "admin", "app"):
        raised |= _code_literals(folder)

    assert raised - TOP_LEVEL_CODES - set(error_codes()) == set()


def test_the_enum_lists_exactly_the_declared_codes_each_once() -> None:
    codes = error_codes()

    assert [member.value for member in ErrorCode] == codes
    assert len(set(codes)) == len(codes)


def _error_codes_in(sdl_path: Path) -> list[str]:
    return sdl_path.read_text().split("enum ErrorCode {", 1)[1].split("}", 1)[0].split()


def test_the_enum_keeps_its_published_order() -> None:
    assert [member.value for member in ErrorCode] == _error_codes_in(ROOT / "schema.graphql")


def test_codes_of_the_last_release_keep_their_places() -> None:
    # `make schema` rewrites schema.graphql, so the check above follows any new order; the
    # last release is what clients have seen. A new code is declared in its domain's
    # `later_error_codes`; if it would land before a released one, declare it in the
    # `later_error_codes` of the last domain that has any.
    released = _error_codes_in(latest_release((ROOT / "schema" / "released").iterdir()))

    assert [member.value for member in ErrorCode][: len(released)] == released


def test_job_sweep_and_loader_names_are_unique() -> None:
    for kind in ("jobs", "loaders"):
        names = [name for domain in DOMAINS for name in getattr(domain, kind)]
        assert len(names) == len(set(names)), kind
    sweeps = [sweep.name for domain in DOMAINS for sweep in domain.sweeps]
    assert len(sweeps) == len(set(sweeps))
    assert len({domain.name for domain in DOMAINS}) == len(DOMAINS)


def test_sweeps_start_in_their_old_order_with_their_old_intervals() -> None:
    settings = Settings(
        env="test",
        moderation_sweep_interval=30.0,
        webhook_sweep_interval=1.0,
        billing_sweep_interval=60.0,
        retention_sweep_interval=300.0,
        idempotency_sweep_interval=300.0,
    )
    sweeps = [sweep for domain in DOMAINS for sweep in domain.sweeps]

    assert [(sweep.name, interval(sweep, settings)) for sweep in sweeps] == [
        ("suspension-sweep", 30.0),
        ("webhook-sweep", 1.0),
        ("mail-sweep", 10.0),
        ("billing-sweep", 60.0),
        ("billing-reconcile", 3600.0),
        ("job-sweep", 5.0),
        ("retention-sweep", 300.0),
        ("idempotency-sweep", 300.0),
    ]


def test_the_loaders_callers_use_are_declared() -> None:
    declared = {name for domain in DOMAINS for name in domain.loaders}

    assert declared == {
        "accounts_by_id",
        "visible_posts_by_id",
        "liked_by_viewer",
        "visible_reply_counts",
        "followed_by_viewer",
        "prices_by_id",
        "lines_by_invoice",
        "credit_notes_by_invoice",
        "latest_invoice_by_subscription",
    }


def test_every_table_is_registered_by_its_domain() -> None:
    _import_all_models()
    modules = {module.__name__ for module in TABLE_MODULES}

    mapped = {mapper.class_.__module__ for mapper in Base.registry.mappers}
    assert mapped - modules == set()


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            LiveEvent(seq=7, type=events.POST_CREATED, payload={"post_id": 3}),
            [("chirp.fan_out_post", {"post_id": 3})],
        ),
        (
            LiveEvent(
                seq=8, type=events.ACCOUNT_FOLLOWED, payload={"follower_id": 1, "followee_id": 2}
            ),
            [("chirp.backfill_follow", {"follower_id": 1, "followee_id": 2})],
        ),
        (
            LiveEvent(seq=9, type=mail.EMAIL_QUEUED, payload={"email_id": 5}),
            [("chirp.send_email", {"email_id": 5})],
        ),
        (LiveEvent(seq=10, type=events.ACCOUNT_SUSPENDED, payload={"account_id": 1}), []),
    ],
)
def test_an_event_calls_for_its_webhooks_first_then_its_domain_jobs(
    event: LiveEvent, expected: list[tuple[str, dict[str, int]]]
) -> None:
    webhooks = [("chirp.create_webhook_deliveries", {"event_seq": event.seq})]

    jobs = jobs_for(event)

    assert jobs == (webhooks if catalogue.is_deliverable(event.type) else []) + expected
    registered = {name for domain in DOMAINS for name in domain.jobs}
    assert {name for name, _ in jobs} <= registered
