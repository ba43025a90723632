"""A small `graphql-transport-ws` client for tests, on the `websockets` library.

It speaks the protocol as written (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md)
and hides nothing else: tests see every message and the close code and reason.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin, Subprotocol

PROTOCOL = Subprotocol("graphql-transport-ws")
Message = dict[str, Any]


class GraphQLWebSocket:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.ack_payload: Any = None

    @classmethod
    @asynccontextmanager
    async def connect(
        cls,
        url: str,
        *,
        token: str | None = None,
        init: bool = True,
        origin: str | None = None,
        max_queue: int = 16,
        receive_buffer: int | None = None,
        within: float = 5.0,
        headers: dict[str, str] | None = None,
    ) -> AsyncIterator[GraphQLWebSocket]:
        """Open a connection and, unless `init` is false, complete `connection_init` with
        `{"authorization": token}` (or an empty payload without a token).

        `max_queue` and `receive_buffer` (SO_RCVBUF, bytes) bound how much the client takes
        in while nobody reads, so that a test can make TCP push back on the server."""
        sock = None
        if receive_buffer is not None:
            parts = urlsplit(url)
            assert parts.hostname is not None and parts.port is not None, url
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            sock.setblocking(False)
            try:
                async with asyncio.timeout(within):
                    await asyncio.get_running_loop().sock_connect(
                        sock, (parts.hostname, parts.port)
                    )
            except BaseException:
                sock.close()
                raise
        async with connect(
            url,
            subprotocols=[PROTOCOL],
            origin=None if origin is None else Origin(origin),
            compression=None,  # so that message sizes on the wire are what the test sends
            proxy=None,
            open_timeout=within,
            close_timeout=2,
            ping_interval=None,
            max_queue=max_queue,
            sock=sock,
            additional_headers=headers,
        ) as connection:
            assert connection.subprotocol == PROTOCOL, connection.subprotocol
            client = cls(connection)
            if init:
                await client.init({} if token is None else {"authorization": token}, within)
            yield client

    @property
    def close_code(self) -> int | None:
        return self.connection.close_code

    @property
    def close_reason(self) -> str | None:
        return self.connection.close_reason

    async def send(self, message: Message) -> None:
        await self.connection.send(json.dumps(message))

    async def send_init(self, payload: dict[str, Any]) -> None:
        await self.send({"type": "connection_init", "payload": payload})

    async def init(self, payload: dict[str, Any], within: float = 5.0) -> Message:
        """Send `connection_init` and wait for `connection_ack`."""
        await self.send_init(payload)
        ack = await self.next_message(within)
        assert ack["type"] == "connection_ack", ack
        self.ack_payload = ack.get("payload")
        return ack

    async def subscribe(self, id: str, query: str, variables: dict[str, Any] | None = None) -> None:
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        await self.send({"id": id, "type": "subscribe", "payload": payload})

    async def complete(self, id: str) -> None:
        await self.send({"id": id, "type": "complete"})

    async def next_message(self, within: float = 5.0) -> Message:
        """The next message from the server, answering its pings on the way. Raises
        TimeoutError after `within` seconds, and ConnectionClosed once the server closed."""
        async with asyncio.timeout(within):
            while True:
                raw = await self.connection.recv()
                message: Message = json.loads(raw)
                if message.get("type") == "ping":
                    await self.send({"type": "pong"})
                    continue
                return message

    async def next_data(self, id: str, within: float = 5.0) -> dict[str, Any]:
        """The `data` of the next message, which must be an error-free `next` for `id`."""
        message = await self.next_message(within)
        assert message.get("type") == "next" and message.get("id") == id, message
        assert "errors" not in message["payload"], message
        data: dict[str, Any] = message["payload"]["data"]
        return data

    async def until_closed(self, within: float = 5.0) -> list[Message]:
        """Read until the server closes the connection; return what came before the close.
        The close code and reason are then `close_code` and `close_reason`."""
        messages: list[Message] = []
        try:
            async with asyncio.timeout(within):
                while True:
                    messages.append(await self.next_message(within))
        except ConnectionClosed:
            return messages
        except TimeoutError:
            raise AssertionError(
                f"the server did not close the connection within {within}s; "
                f"it sent {len(messages)} message(s), the last: {str(messages[-1:])[:300]}"
            ) from None
