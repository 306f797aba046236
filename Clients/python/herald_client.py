"""Herald client for Python (asyncio, on the `websockets` package).

One connection to a Herald gateway (Docs/PROTOCOL.md) that subscribes
in-band, re-subscribes after every reconnect, tracks each topic's seq and
reports what was missed (server `gap` messages, and messages published
while the connection was down, from the `subscribed` reply's seq)::

    async with HeraldClient("ws://127.0.0.1:8080/ws") as client:
        await client.subscribe("prices/eur")
        async for event in client:
            if isinstance(event, Message): ...
            elif isinstance(event, Gap): ...

`publish()` posts to the admin API (urllib, no extra dependency).
"""
from __future__ import annotations

import asyncio
import json
import random
import re
import struct
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, AsyncIterator

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


TOPIC_NAME = re.compile(r"[A-Za-z0-9._\-:@/]{1,128}")


@dataclass(frozen=True)
class Message:
    topic: str
    seq: int
    data: Any


@dataclass(frozen=True)
class Gap:
    """Messages `from_seq`..`to_seq` (inclusive) of `topic` will not arrive."""
    topic: str
    from_seq: int
    to_seq: int


@dataclass(frozen=True)
class ServerError:
    code: str
    message: str


def decode_binary_envelope(frame: bytes) -> Message:
    """version (1) | topic length (1) | topic | seq (8, big-endian) | payload."""
    if frame[0] != 1:
        raise ValueError(f"unknown binary envelope version {frame[0]}")
    length = frame[1]
    topic = frame[2:2 + length].decode()
    (seq,) = struct.unpack(">Q", frame[2 + length:10 + length])
    return Message(topic, seq, frame[10 + length:])


class HeraldClient:
    def __init__(self, url: str, *, token: str | None = None, min_delay: float = 0.5, max_delay: float = 30.0,
                 compression: str | None = "deflate"):
        if token:
            url += ("&" if "?" in url else "?") + "token=" + urllib.parse.quote(token)
        self.url = url
        self.min_delay = min_delay
        self.max_delay = max_delay
        self.compression = compression
        self.topics: dict[str, int | None] = {}
        self.events: asyncio.Queue = asyncio.Queue()
        self._socket = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._closing = False

    async def __aenter__(self) -> "HeraldClient":
        self._task = asyncio.create_task(self._run())
        await self._connected.wait()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        self._closing = True
        if self._socket is not None:
            await self._socket.close()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def subscribe(self, topic: str) -> None:
        # Checked here so a bad name is not re-sent after every reconnect.
        if not TOPIC_NAME.fullmatch(topic):
            raise ValueError(f"bad topic name {topic!r}: 1-128 bytes of A-Z a-z 0-9 . _ - : @ /")
        self.topics.setdefault(topic, None)
        await self._send({"type": "subscribe", "topic": topic})

    async def unsubscribe(self, topic: str) -> None:
        self.topics.pop(topic, None)
        await self._send({"type": "unsubscribe", "topic": topic})

    def __aiter__(self) -> AsyncIterator[Message | Gap | ServerError]:
        return self

    async def __anext__(self) -> Message | Gap | ServerError:
        return await self.events.get()

    async def _send(self, obj: dict) -> None:
        await self._connected.wait()
        await self._socket.send(json.dumps(obj))

    async def _run(self) -> None:
        attempt = 0
        while not self._closing:
            try:
                async with connect(self.url, compression=self.compression) as socket:
                    self._socket = socket
                    attempt = 0
                    for topic in self.topics:
                        await socket.send(json.dumps({"type": "subscribe", "topic": topic}))
                    self._connected.set()
                    async for raw in socket:
                        self._handle(raw)
            except (OSError, ConnectionClosed, asyncio.TimeoutError):
                pass
            self._connected.clear()
            if self._closing:
                return
            ceiling = min(self.max_delay, self.min_delay * 2 ** attempt)
            attempt += 1
            await asyncio.sleep(ceiling / 2 + random.random() * ceiling / 2)

    def _handle(self, raw: str | bytes) -> None:
        if isinstance(raw, bytes):
            message = decode_binary_envelope(raw)
            self._track(message.topic, message.seq)
            self.events.put_nowait(message)
            return
        event = json.loads(raw)
        kind = event.get("type")
        if kind == "message":
            self._track(event["topic"], event["seq"])
            self.events.put_nowait(Message(event["topic"], event["seq"], event["data"]))
        elif kind == "subscribed":
            last = self.topics.get(event["topic"])
            if last is not None and event["seq"] > last:
                self.events.put_nowait(Gap(event["topic"], last + 1, event["seq"]))
            if event["topic"] in self.topics:
                self.topics[event["topic"]] = event["seq"]
        elif kind == "gap":
            self.events.put_nowait(Gap(event["topic"], event["from"], event["to"]))
            if event["topic"] in self.topics:
                self.topics[event["topic"]] = event["to"]
        elif kind == "error":
            self.events.put_nowait(ServerError(event.get("code", ""), event.get("message", "")))

    def _track(self, topic: str, seq: int) -> None:
        last = self.topics.get(topic)
        if last is not None and seq > last + 1:
            self.events.put_nowait(Gap(topic, last + 1, seq - 1))
        if topic in self.topics:
            self.topics[topic] = seq


def publish(admin_url: str, topic: str, data: Any, *, token: str | None = None) -> int:
    """POST /v1/publish?topic=T with a JSON body; returns the message's seq."""
    request = urllib.request.Request(
        f"{admin_url}/v1/publish?topic={urllib.parse.quote(topic, safe='')}",
        data=json.dumps(data).encode(), method="POST", headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["seq"]
