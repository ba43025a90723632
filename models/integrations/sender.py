"""The HTTP client of webhook deliveries (httpx): a timeout on every call, redirects never
followed, no proxy from the environment, a capped read of the answer, and the connection
made to an address checked against the SSRF rules (`urls.py`)."""

from __future__ import annotations

import asyncio
import functools
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from models.integrations import urls

EXCERPT_BYTES = 2048  # read at most this much of an answer
EXCERPT_CHARS = 500  # and keep this much of it
USER_AGENT = "Chirp-Webhooks/1"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt got: a status code and an excerpt, or an error."""

    status_code: int | None
    excerpt: str
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's own default (certifi's certificates, no environment), loaded once per process
    (about 14 ms each time) and shared by every sender; nothing changes it after it is made."""
    return httpx.create_ssl_context(trust_env=False)


class WebhookSender:
    def __init__(self, *, timeout: float, production: bool) -> None:
        self._timeout = timeout
        self._production = production
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            trust_env=False,
            verify=tls_context(),
            limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
            headers={"user-agent": USER_AGENT},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> Outcome:
        started = time.monotonic()
        status, excerpt, error = None, "", ""
        try:
            # httpx's timeouts apply per read; this bounds a slow drip of bytes as well.
            async with asyncio.timeout(self._timeout * 2):
                status, excerpt = await self._post(url, body, headers)
        except urls.RefusedAddress as exc:
            error = str(exc)
        except TimeoutError:
            error = f"no complete answer within {self._timeout * 2:g} seconds"
        except httpx.TimeoutException:
            error = f"timed out (limit {self._timeout:g} seconds)"
        except (httpx.HTTPError, OSError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        duration = int((time.monotonic() - started) * 1000)
        return Outcome(status, excerpt[:EXCERPT_CHARS], error[:300], duration)

    async def _post(self, url: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, str]:
        target = httpx.URL(url)
        address = await self._resolve(target)
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        request = self._client.build_request(
            "POST",
            target.copy_with(host=str(address)),
            content=body,
            headers={**headers, "host": target.netloc.decode("ascii")},
            extensions=extensions,
        )
        response = await self._client.send(request, stream=True)
        try:
            received = bytearray()
            async for chunk in response.aiter_raw():
                received += chunk
                if len(received) >= EXCERPT_BYTES:
                    break
        finally:
            await response.aclose()
        return response.status_code, received[:EXCERPT_BYTES].decode(errors="replace")

    async def _resolve(self, target: httpx.URL) -> urls.IPAddress:
        literal = urls.parse_ip(target.host)
        if literal is not None:
            return urls.check_resolved([literal], production=self._production)
        port = target.port or (443 if target.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                target.host, port, type=socket.SOCK_STREAM
            )
        except socket.gaierror as exc:
            raise urls.RefusedAddress(f"the host name did not resolve ({exc})") from exc
        found = [urls.parse_ip(str(info[4][0])) for info in infos]
        if any(a is None for a in found):
            raise urls.RefusedAddress("the host name resolved to an unusable address")
        return urls.check_resolved([a for a in found if a is not None], production=self._production)
