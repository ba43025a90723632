"""localstripe as tests and `make run` use it: loopback only, the SDK's payments, and signed
webhooks; and the signing of events localstripe cannot send."""

from __future__ import annotations

import fcntl
import socket
import struct
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe

from app.settings import Settings
from tests.conftest import eventually
from tests.support.cli import run_cli
from tests.support.receiver import Received, Receiver
from tests.support.servers import free_port
from tests.support.stripe import LocalStripe, sign_event, stripe_event

SECRET = "whsec_test_localstripe"
SIOCGIFADDR = 0x8915  # <linux/sockios.h>
TCP_LISTEN = "0A"  # socket state in /proc/net/tcp
VISA = "4242424242424242"
DECLINED_ON_CHARGE = "4000000000000341"  # attaches, then every charge is declined


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of the sockets listening on `port`, from /proc/net/tcp and tcp6."""
    found = set()
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        path = Path("/proc/net") / table
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state != TCP_LISTEN or int(hex_port, 16) != port:
                continue
            # The kernel prints each 32-bit word of the address in host byte order.
            words = [int(address[i : i + 8], 16) for i in range(0, len(address), 8)]
            packed = b"".join(struct.pack("=I", word) for word in words)
            found.add(socket.inet_ntop(family, packed))
    return found


def _other_addresses() -> list[str]:
    """The machine's IPv4 addresses other than loopback (one per interface), and ::1."""
    addresses = ["::1"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _, name in socket.if_nameindex():
            request = struct.pack("256s", name.encode()[:15])
            try:
                reply = fcntl.ioctl(sock.fileno(), SIOCGIFADDR, request)
            except OSError:
                continue  # no IPv4 address on this interface
            address = socket.inet_ntoa(reply[20:24])
            if not address.startswith("127."):
                addresses.append(address)
    return addresses


def _settings() -> Settings:
    return Settings(env="test")


async def _customer_with_card(client: stripe.StripeClient, number: str) -> tuple[str, str]:
    customer = await client.v1.customers.create_async(
        params={"email": "ada@example.com"}, options={"idempotency_key": uuid.uuid4().hex}
    )
    # Raw card numbers: what Stripe.js would tokenise in a browser (localstripe takes them).
    params: Any = {
        "type": "card",
        "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"},
    }
    method = await client.v1.payment_methods.create_async(params=params)
    await client.v1.payment_methods.attach_async(method.id, params={"customer": customer.id})
    return customer.id, method.id


async def _pay(client: stripe.StripeClient, customer: str, method: str) -> stripe.PaymentIntent:
    params: Any = {
        "amount": 500,
        "currency": "usd",
        "customer": customer,
        "payment_method": method,
        "confirm": True,
        "off_session": True,
    }
    return await client.v1.payment_intents.create_async(params=params)


@pytest.mark.processes
async def test_it_listens_on_loopback_only(localstripe: LocalStripe) -> None:
    port = localstripe.process.port

    with socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
    for address in _other_addresses():
        with pytest.raises(OSError):
            socket.create_connection((address, port), timeout=2).close()
    assert _listening_addresses(port) == {"127.0.0.1"}


@pytest.mark.processes
async def test_the_sdk_creates_a_customer_attaches_a_card_and_pays(
    localstripe: LocalStripe,
) -> None:
    client = localstripe.client(_settings())

    customer, method = await _customer_with_card(client, VISA)
    intent = await _pay(client, customer, method)

    assert intent.status == "succeeded"
    assert intent.amount == 500
    attached = await client.v1.payment_methods.retrieve_async(method)
    assert attached.customer == customer
    assert attached.card is not None and attached.card.last4 == "4242"


@pytest.mark.processes
async def test_a_declined_card_raises_card_error(localstripe: LocalStripe) -> None:
    client = localstripe.client(_settings())
    customer, method = await _customer_with_card(client, DECLINED_ON_CHARGE)

    with pytest.raises(stripe.CardError) as raised:
        await _pay(client, customer, method)

    assert raised.value.code == "card_declined"


@pytest.mark.processes
async def test_the_webhook_endpoint_receives_a_signed_payment_intent_succeeded(
    localstripe: LocalStripe,
) -> None:
    client = localstripe.client(_settings())
    async with Receiver().running() as receiver:
        await localstripe.configure_webhook(receiver.url, SECRET)
        try:
            customer, method = await _customer_with_card(client, VISA)
            intent = await _pay(client, customer, method)

            # localstripe sends each event a second late: earlier tests' events may come too.
            def succeeded() -> list[Received]:
                return [
                    r
                    for r in receiver.received
                    if r.json["type"] == "payment_intent.succeeded"
                    and r.json["data"]["object"]["id"] == intent.id
                ]

            async def delivered() -> bool:
                return bool(succeeded())

            await eventually(delivered)
        finally:
            await localstripe.remove_webhook()

    request = succeeded()[0]
    event = stripe.Webhook.construct_event(
        request.body, request.headers["stripe-signature"], SECRET
    )
    assert event.type == "payment_intent.succeeded"
    assert event.data.object["amount"] == 500
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(request.body, request.headers["stripe-signature"], "whsec_x")


@pytest.mark.processes
async def test_flush_forgets_every_object(localstripe: LocalStripe) -> None:
    client = localstripe.client(_settings())
    customer = await client.v1.customers.create_async(params={"email": "grace@example.com"})

    await localstripe.flush()

    with pytest.raises(stripe.InvalidRequestError):
        await client.v1.customers.retrieve_async(customer.id)


@pytest.mark.processes
def test_chirp_localstripe_refuses_to_run_in_production() -> None:
    port = free_port()

    result = run_cli(
        "localstripe",
        "--port",
        str(port),
        CHIRP_ENV="production",
        SECRET_KEY="a-production-secret-of-at-least-32-characters",
        STRIPE_API_KEY="sk_live_not_a_real_key",
        STRIPE_WEBHOOK_SECRET="whsec_not_a_real_secret",
        SMTP_HOST="127.0.0.1",
    )

    assert result.returncode == 2, result.stderr
    assert "not production" in result.stderr
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/js.stripe.com/v3/", timeout=1)


def test_sign_event_verifies_with_the_sdk_and_a_tampered_body_does_not() -> None:
    event = stripe_event("charge.dispute.created", {"id": "dp_1", "object": "dispute"})

    body, header = sign_event(event, SECRET)

    verified = stripe.Webhook.construct_event(body, header, SECRET)
    assert verified.id == event["id"]
    assert verified.type == "charge.dispute.created"
    assert verified.data.object["id"] == "dp_1"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.replace(b"dp_1", b"dp_2"), header, SECRET)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, header, "whsec_another_secret")


def test_sign_event_signs_at_the_given_time() -> None:
    an_hour_ago = int(time.time()) - 3600
    body, header = sign_event(
        stripe_event("charge.dispute.closed", {"id": "dp_2"}), SECRET, timestamp=an_hour_ago
    )

    assert header.startswith(f"t={an_hour_ago},v1=")
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        stripe.Webhook.construct_event(body, header, SECRET, tolerance=300)
    assert stripe.Webhook.construct_event(body, header, SECRET, tolerance=7200).id
