"""Pure rules of integrations: URLs and addresses (SSRF), signatures, the retry schedule,
what a webhook sends, and CSV neutralisation."""

from __future__ import annotations

import ipaddress
import random
from datetime import UTC, datetime, timedelta

import pytest

from app.schema import build_schema
from models.errors import DomainError
from models.ids import global_id
from models.integrations import catalogue, signing, urls
from models.integrations.retry import RetryPolicy
from models.text import neutralise
from resolvers.paging import global_id as api_global_id


@pytest.mark.parametrize(
    ("url", "production", "ok"),
    [
        ("https://hooks.example.com/chirp", True, True),
        ("https://93.184.216.34:8443/in", True, True),
        ("http://hooks.example.com/chirp", True, False),
        ("https://localhost/hook", True, False),
        ("https://127.0.0.1/hook", True, False),
        ("https://[::1]/hook", True, False),
        ("https://[::ffff:10.0.0.1]/hook", True, False),
        ("https://192.168.1.10/hook", True, False),
        ("https://100.64.0.1/hook", True, False),  # carrier-grade NAT
        ("https://0.0.0.0/hook", True, False),
        ("https://224.0.0.1/hook", True, False),
        ("http://localhost:8080/hook", False, True),
        ("http://127.0.0.1:8080/hook", False, True),
        ("http://[::1]:8080/hook", False, True),
        ("https://hooks.example.com/chirp", False, True),
        ("http://hooks.example.com/chirp", False, False),
        ("http://10.0.0.1/hook", False, False),
        ("https://example.com/hook#part", False, False),
        ("javascript:alert(1)", False, False),
    ],
)
def test_url_rules(url: str, production: bool, ok: bool) -> None:
    if ok:
        assert urls.check_url(url, production=production) == url
    else:
        with pytest.raises(DomainError) as caught:
            urls.check_url(url, production=production)
        assert caught.value.code == "INVALID_WEBHOOK_URL"


def test_every_resolved_address_must_be_allowed() -> None:
    public = ipaddress.ip_address("93.184.216.34")
    private = ipaddress.ip_address("10.0.0.7")
    loopback = ipaddress.ip_address("127.0.0.1")

    assert urls.check_resolved([public], production=True) == public
    assert urls.check_resolved([loopback], production=False) == loopback
    for addresses in ([public, private], [loopback], []):
        with pytest.raises(urls.RefusedAddress):
            urls.check_resolved(addresses, production=True)


@pytest.mark.parametrize(
    "address",
    [
        "::7f00:1",  # IPv4-compatible 127.0.0.1
        "::a9fe:a9fe",  # IPv4-compatible 169.254.169.254 (cloud metadata)
        "::ffff:0:7f00:1",  # IPv4-translated (SIIT) 127.0.0.1
        "::ffff:0:a00:1",  # IPv4-translated 10.0.0.1
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b:1::a00:1",  # local-use NAT64
        "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo
        "::ffff:10.0.0.1",
    ],
)
def test_ipv6_addresses_carrying_a_non_public_ipv4_are_refused(address: str) -> None:
    parsed = urls.parse_ip(address)
    assert parsed is not None
    assert not urls.address_allowed(parsed, production=True)
    assert not urls.address_allowed(parsed, production=False)
    with pytest.raises(urls.RefusedAddress):
        urls.check_resolved([parsed], production=True)
    with pytest.raises(DomainError):
        urls.check_url(f"https://[{address}]/hook", production=True)


def test_ipv6_addresses_carrying_a_public_ipv4_or_none_are_judged_as_usual() -> None:
    assert urls.address_allowed(ipaddress.ip_address("2606:4700::1111"), production=True)
    assert urls.address_allowed(ipaddress.ip_address("::1"), production=False)
    assert not urls.address_allowed(ipaddress.ip_address("::1"), production=True)
    assert not urls.address_allowed(ipaddress.ip_address("::"), production=False)
    assert urls.embedded_ipv4(ipaddress.ip_address("64:ff9b::5db8:d822")) == [
        ipaddress.ip_address("93.184.216.34")
    ]
    assert urls.embedded_ipv4(ipaddress.ip_address("2002:5db8:d822::1")) == [
        ipaddress.ip_address("93.184.216.34")
    ]


@pytest.mark.parametrize(
    "host",
    ["2130706433", "0x7f000001", "0177.0.0.1", "127.1", "0x7f.1", "10.1", "a.b.1."],
)
@pytest.mark.parametrize("production", [True, False])
def test_hosts_in_non_standard_ipv4_forms_are_refused(host: str, production: bool) -> None:
    with pytest.raises(DomainError) as caught:
        urls.check_url(f"https://{host}/hook", production=production)
    assert caught.value.code == "INVALID_WEBHOOK_URL"


@pytest.mark.parametrize("url", ["https://localhost./hook", "https://LOCALHOST/hook",
                                 "https://api.localhost./hook"])  # fmt: skip
def test_localhost_with_a_trailing_dot_or_in_capitals_is_refused_in_production(url: str) -> None:
    with pytest.raises(DomainError):
        urls.check_url(url, production=True)


def test_host_names_with_digits_are_still_host_names() -> None:
    for url in ("https://1password.com/hook", "https://hooks.123.example/x", "https://3com.io/"):
        assert urls.check_url(url, production=True) == url


def test_a_signature_verifies_only_with_the_secret_the_body_and_a_fresh_time() -> None:
    secret, body, now = signing.new_secret(), b'{"id":"evt_1"}', 1_800_000_000
    header = signing.signature_header([secret], body, now)

    assert header == f"t={now},v1={signing.sign(secret, now, body)}"
    assert signing.verify(header, body, secret, now=now + 299)
    assert not signing.verify(header, body, secret, now=now + 301)  # stale: a replay
    assert not signing.verify(header, body + b" ", secret, now=now)
    assert not signing.verify(header, body, signing.new_secret(), now=now)
    assert not signing.verify(header.replace(f"t={now}", f"t={now + 1}"), body, secret, now=now)
    old = signing.new_secret()
    both = signing.signature_header([secret, old], body, now)
    assert signing.verify(both, body, secret, now=now) and signing.verify(both, body, old, now=now)


def test_retry_delays_grow_exponentially_with_jitter_up_to_the_cap() -> None:
    policy = RetryPolicy(base=30, cap=3600)
    rng = random.Random(7)

    for attempt, ceiling in [(1, 30), (2, 60), (3, 120), (8, 3600), (60, 3600)]:
        delays = [policy.delay(attempt, rng).total_seconds() for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 40  # jittered


def test_an_endpoint_is_turned_off_after_enough_failures_for_long_enough() -> None:
    policy = RetryPolicy(disable_after=3, failing_period=3600)
    start = datetime(2026, 1, 1, tzinfo=UTC)

    assert not policy.should_disable(failures=2, failing_since=start, now=start + timedelta(days=1))
    assert not policy.should_disable(
        failures=9, failing_since=start, now=start + timedelta(minutes=5)
    )
    assert policy.should_disable(failures=3, failing_since=start, now=start + timedelta(hours=1))


def test_a_webhook_sends_only_the_allowed_fields_with_api_ids() -> None:
    payload = {"account_id": 7, "handle": "ann", "email": "ann@example.com", "ip": "1.2.3.4"}

    data = catalogue.webhook_data("account.created", payload)
    body = catalogue.webhook_body(
        event_id=3,
        event_type="account.created",
        created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        payload=payload,
    )

    assert data == {"account_id": api_global_id("Account", 7), "handle": "ann"}
    assert global_id("Post", 12) == api_global_id("Post", 12)
    assert body == (
        b'{"created_at":"2026-01-02T03:04:05Z","data":{"account_id":"QWNjb3VudDo3",'
        b'"handle":"ann"},"id":"evt_3","type":"account.created"}'
    )


def test_the_graphql_enum_is_the_catalogue() -> None:
    enum = build_schema()._schema.type_map["WebhookEventType"]

    values = {v.value for v in enum.values.values()}
    assert values == set(catalogue.DELIVERABLE)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+33 1 23", "'+33 1 23"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Ada = Lovelace", "Ada = Lovelace"),
        ("", ""),
    ],
)
def test_csv_cells_that_would_run_as_formulas_are_prefixed(cell: str, expected: str) -> None:
    assert neutralise(cell) == expected
