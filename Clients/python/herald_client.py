"""Herald client for Python (asyncio, on the `websockets` package).

One connection to a Herald gateway (Docs/PROTOCOL.md) that subscribes
in-band, re-subscribes after every reconnect *with the position it had*
(`since`: epoch and seq), so the server replays what was missed, and
reports what could not be recovered: a `Reset` (another epoch, or missed
messages no longer kept: reload the topic's state from the application) or
a `Gap` (the server's `drop` policy). A refused token (close 4001) stops the
client with `Unauthorized`. With `get_token` the client takes a fresh token
before every connect and sends one in-band (`refresh`) ahead of the current
token's `exp`, so the server never has to close it for expiry (4002). A 503
is retried after its `Retry-After`; `on_state` hears every connection state
change ("connecting", "connected", "disconnected" with the close code)::

    async with HeraldClient("ws://127.0.0.1:8080/ws") as client:
        await client.subscribe("prices/eur")
        async for event in client:
            if isinstance(event, Message): ...
            elif isinstance(event, Gap): ...

`publish()` posts to the admin API (urllib, no extra dependency).
"""
from __future__ import annotations

import asyncio
import base64
import json
import random
import re
import struct
import time
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
    topic: str | None = None


@dataclass(frozen=True)
class Reset:
    """`topic`'s missed messages cannot be recovered (`reason`: "epoch"
    when its sequence restarted, "not_recovered" when they are no longer
    kept): reload its state from the application. Live messages follow
    from `seq + 1` in `epoch`."""
    topic: str
    reason: str
    epoch: str
    seq: int


@dataclass(frozen=True)
class ConnectionState:
    """Passed to `on_state`: "connecting", "connected" or "disconnected"
    (with the close `code` and `reason` when a connection ended; code 0 when
    none was made)."""
    state: str
    code: int | None = None
    reason: str = ""


class Unauthorized(Exception):
    """The server refused the connection token (close 4001, or 4002 with
    no `get_token` to renew it): the client stops instead of spinning."""


ZSTD_SUBPROTOCOL = "herald.zstd.v1"


class ZstdFrameError(ValueError):
    """A herald.zstd.v1 frame that cannot be decoded."""


def decode_zstd_frame(frame: bytes, *, dictionaries: dict[int, bytes] | None = None,
                      max_bytes: int = 16 << 20) -> tuple[bool, bytes]:
    """A herald.zstd.v1 message frame: 'Z' | kind (1 text, 2 binary envelope) |
    dictionary id (u32, big-endian; 0 = none) | zstd frame. Returns (is_text,
    the message as a plain subscriber gets it). The zstd frame states its
    size: past `max_bytes` it is refused before anything is decompressed.
    Needs `zstandard` (pip install 'herald-client[zstd]')."""
    import zstandard

    if len(frame) < 6 or frame[:1] != b"Z":
        raise ZstdFrameError("short zstd frame")
    kind = frame[1]
    (dictionary,) = struct.unpack(">I", frame[2:6])
    if kind not in (1, 2):
        raise ZstdFrameError(f"unknown zstd frame kind {kind}")
    try:
        size = zstandard.frame_content_size(frame[6:])
        if size < 0 or size > max_bytes:
            raise ZstdFrameError(f"zstd frame of unknown or too large size ({size})")
        if dictionary == 0:
            decompressor = zstandard.ZstdDecompressor()
        else:
            if not dictionaries or dictionary not in dictionaries:
                raise ZstdFrameError(f"zstd dictionary {dictionary} was never received")
            decompressor = zstandard.ZstdDecompressor(dict_data=zstandard.ZstdCompressionDict(dictionaries[dictionary]))
        return kind == 1, decompressor.decompress(frame[6:], max_output_size=size)
    except zstandard.ZstdError as error:
        raise ZstdFrameError(f"corrupt zstd frame: {error}") from error


def decode_zstd_dictionary(frame: bytes) -> tuple[int, str, bytes]:
    """'Z' | 3 | dictionary id (u32, big-endian) | topic length (u8) | topic |
    dictionary bytes → (id, topic, bytes)."""
    if frame[:2] != b"Z\x03" or len(frame) < 7 or len(frame) < 7 + frame[6]:
        raise ZstdFrameError("not a zstd dictionary frame")
    (dictionary,) = struct.unpack(">I", frame[2:6])
    length = frame[6]
    return dictionary, frame[7:7 + length].decode(), frame[7 + length:]


def decode_binary_envelope(frame: bytes) -> Message:
    """version (1) | topic length (1) | topic | seq (8, big-endian) | payload."""
    if frame[0] != 1:
        raise ValueError(f"unknown binary envelope version {frame[0]}")
    length = frame[1]
    topic = frame[2:2 + length].decode()
    (seq,) = struct.unpack(">Q", frame[2 + length:10 + length])
    return Message(topic, seq, frame[10 + length:])


class HeraldClient:
    def __init__(self, url: str, *, token: str | None = None, get_token=None, on_state=None,
                 min_delay: float = 0.5, max_delay: float = 30.0, compression: str | None = "deflate"):
        self.base_url = url
        self.token = token
        # Called (no arguments, may be async) for a fresh token before every
        # connect and ahead of the current token's `exp`.
        self.get_token = get_token
        # Called with a ConnectionState on every change (may not block).
        self.on_state = on_state
        self.state = "disconnected"
        self._refresher: asyncio.Task | None = None
        self.epochs: dict[str, str] = {}
        self.failure: Exception | None = None
        self.min_delay = min_delay
        self.max_delay = max_delay
        self.compression = compression
        self.topics: dict[str, int | None] = {}
        # herald.zstd.v1 dictionaries by id, as the server sent them (one per
        # topic version; only for topics this client subscribes to).
        self.dictionaries: dict[int, bytes] = {}
        self.events: asyncio.Queue = asyncio.Queue()
        self._socket = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task | None = None
        self._closing = False

    @property
    def url(self) -> str:
        query = []
        if self.token:
            query.append("token=" + urllib.parse.quote(self.token))
        if self.compression == "zstd" and self.dictionaries:
            # Dictionaries kept from an earlier connection are not sent again
            # (the newest 16: the server's bound).
            query.append("zstd_dicts=" + ",".join(str(i) for i in list(self.dictionaries)[::-1][:16]))
        if not query:
            return self.base_url
        return self.base_url + ("&" if "?" in self.base_url else "?") + "&".join(query)

    async def __aenter__(self) -> "HeraldClient":
        self._task = asyncio.create_task(self._run())
        connected = asyncio.create_task(self._connected.wait())
        await asyncio.wait([connected, self._task], return_when=asyncio.FIRST_COMPLETED)
        if self.failure is not None:
            connected.cancel()
            raise self.failure
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        self._closing = True
        self._arm_refresh(None)
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
        if topic in self.topics:
            # Already subscribed (or re-subscribed with its position on the
            # next connect): sending again could only confuse the position.
            return
        self.topics[topic] = None
        await self._send({"type": "subscribe", "topic": topic})

    async def unsubscribe(self, topic: str) -> None:
        self.topics.pop(topic, None)
        await self._send({"type": "unsubscribe", "topic": topic})

    def __aiter__(self) -> AsyncIterator[Message | Gap | ServerError]:
        return self

    async def __anext__(self) -> Message | Gap | Reset | ServerError:
        if self.failure is not None and self.events.empty():
            raise self.failure
        return await self.events.get()

    async def refresh(self, token: str) -> None:
        """Extends the connection with a new token for the same `sub`."""
        self.token = token
        await self._send({"type": "refresh", "token": token})

    def _subscribe_message(self, topic: str) -> dict:
        message = {"type": "subscribe", "topic": topic}
        seq = self.topics.get(topic)
        if seq is not None and topic in self.epochs:
            message["since"] = {"seq": seq, "epoch": self.epochs[topic]}
        return message

    async def _send(self, obj: dict) -> None:
        if self.failure is not None:
            raise self.failure
        await self._connected.wait()
        try:
            await self._socket.send(json.dumps(obj))
        except ConnectionClosed:
            # The connection is going: subscriptions are re-sent on the
            # next one (with `since`), and the run loop says why it closed.
            pass

    def _set_state(self, state: str, code: int | None = None, reason: str = "") -> None:
        self.state = state
        if self.on_state is not None:
            self.on_state(ConnectionState(state, code, reason))

    async def _fresh_token(self) -> str:
        fresh = self.get_token()
        return await fresh if asyncio.iscoroutine(fresh) else fresh

    def _arm_refresh(self, exp: Any) -> None:
        """Refreshes in-band ahead of `exp`: a tenth of the remaining life
        early, at least 5 s early, never more often than once a second."""
        if self._refresher is not None:
            self._refresher.cancel()
            self._refresher = None
        if self.get_token is None or not isinstance(exp, (int, float)):
            return
        remaining = exp - time.time()
        delay = max(1.0, remaining - max(5.0, remaining / 10))

        async def refresh_later() -> None:
            await asyncio.sleep(delay)
            try:
                await self.refresh(await self._fresh_token())
            except Exception as error:  # noqa: BLE001 — surfaced, the connection goes on
                self.events.put_nowait(ServerError("get_token", str(error)))
        self._refresher = asyncio.create_task(refresh_later())

    async def _run(self) -> None:
        from websockets.exceptions import InvalidStatus
        attempt = 0
        while not self._closing:
            retry_after = None
            refused_token = False
            code, reason = 0, ""
            self._set_state("connecting")
            try:
                if self.get_token is not None:
                    self.token = await self._fresh_token()
                zstd = self.compression == "zstd"
                async with connect(self.url, compression=None if zstd else self.compression,
                                   subprotocols=[ZSTD_SUBPROTOCOL] if zstd else None) as socket:
                    self._socket = socket
                    attempt = 0
                    for topic in list(self.topics):
                        await socket.send(json.dumps(self._subscribe_message(topic)))
                    self._connected.set()
                    self._set_state("connected")
                    self._arm_refresh(_token_expiry(self.token))
                    async for raw in socket:
                        try:
                            self._handle(raw)
                        except ZstdFrameError as error:
                            # A frame this client cannot read (a dictionary it
                            # dropped, a size over the limit): reported, and the
                            # reconnect resubscribes from the last seq, so the
                            # server replays that message.
                            self.events.put_nowait(ServerError("zstd_frame", str(error)))
                            await socket.close(4000, "undecodable zstd frame")
                            break
                code, reason = socket.close_code, socket.close_reason or ""
            except ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else 1006
                reason = closed.rcvd.reason if closed.rcvd else ""
            except InvalidStatus as refused:
                status = refused.response.status_code
                reason = "HTTP %d" % status
                refused_token = status == 401
                if status == 503:
                    retry_after = _seconds(refused.response.headers.get("Retry-After"))
            except (OSError, asyncio.TimeoutError) as error:
                reason = str(error)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 — get_token failed: surfaced, then retried
                reason = "get_token failed"
                self.events.put_nowait(ServerError("get_token", str(error)))
            self._connected.clear()
            self._arm_refresh(None)
            self._set_state("disconnected", code, reason)
            if refused_token:
                self._fail(Unauthorized("the server refused the token (401)"))
                return
            if self._closing:
                return
            if code == 4001:
                self._fail(Unauthorized("the server refused the token (4001)"))
                return
            if code == 4002 and self.get_token is None:
                self._fail(Unauthorized("the token expired (4002) and there is no get_token"))
                return
            # (After 4002 the next connect starts with a fresh get_token.)
            ceiling = min(self.max_delay, self.min_delay * 2 ** attempt)
            attempt += 1
            delay = ceiling / 2 + random.random() * ceiling / 2
            await asyncio.sleep(max(delay, retry_after or 0))

    def _fail(self, error: Exception) -> None:
        self.failure = error
        self._closing = True
        self.events.put_nowait(ServerError("unauthorized", str(error)))

    def _handle(self, raw: str | bytes) -> None:
        if isinstance(raw, bytes) and raw[:2] == b"Z\x03":
            dictionary, _topic, data = decode_zstd_dictionary(raw)
            self.dictionaries[dictionary] = data
            while len(self.dictionaries) > 64:  # the oldest go; the server sends again what is needed
                del self.dictionaries[next(iter(self.dictionaries))]
            return
        if isinstance(raw, bytes) and raw[:1] == b"Z":
            is_text, message = decode_zstd_frame(raw, dictionaries=self.dictionaries)
            raw = message.decode() if is_text else message
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
            topic = event["topic"]
            last = self.topics.get(topic)
            epoch = event.get("epoch")
            known = self.epochs.get(topic)
            if epoch is not None:
                self.epochs[topic] = epoch
            if event.get("recovered") is True:
                # The missed messages follow (replayed); nothing to do.
                return
            if last is not None and (event.get("recovered") is False or (known and epoch and epoch != known)):
                reason = "epoch" if known and epoch and epoch != known else "not_recovered"
                self.events.put_nowait(Reset(topic, reason, epoch or "", event["seq"]))
            elif last is not None and event["seq"] > last:
                # A server without epochs: say what was missed.
                self.events.put_nowait(Gap(topic, last + 1, event["seq"]))
            if topic in self.topics:
                self.topics[topic] = event["seq"]
        elif kind == "refreshed":
            self._arm_refresh(event.get("exp"))
        elif kind == "gap":
            self.events.put_nowait(Gap(event["topic"], event["from"], event["to"]))
            if event["topic"] in self.topics:
                self.topics[event["topic"]] = event["to"]
        elif kind == "error":
            topic = event.get("topic")
            if topic is not None and event.get("code") in ("forbidden", "bad_topic", "too_many_topics", "topic_limit"):
                # Refused for good: not re-sent after every reconnect.
                self.topics.pop(topic, None)
                self.epochs.pop(topic, None)
            elif topic is not None and event.get("code") == "unavailable" and topic in self.topics:
                # A cluster node could not reach Redis for a new topic:
                # asked again after a jittered delay, on this connection.
                asyncio.get_running_loop().create_task(self._resubscribe_later(topic, self._socket))
            self.events.put_nowait(ServerError(event.get("code", ""), event.get("message", ""), topic))

    async def _resubscribe_later(self, topic: str, socket) -> None:
        await asyncio.sleep(self.min_delay * (1 + random.random()))
        if topic in self.topics and self._socket is socket and socket is not None:
            try:
                await socket.send(json.dumps(self._subscribe_message(topic)))
            except ConnectionClosed:
                pass  # the next connection subscribes it anyway

    def _track(self, topic: str, seq: int) -> None:
        last = self.topics.get(topic)
        if last is not None and seq > last + 1:
            self.events.put_nowait(Gap(topic, last + 1, seq - 1))
        if topic in self.topics:
            self.topics[topic] = seq


def _token_expiry(token: str | None) -> int | None:
    """The `exp` claim of a JWT, read only to time the refresh (the server
    is what verifies the token)."""
    try:
        part = (token or "").split(".")[1]
        exp = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))).get("exp")
    except (IndexError, ValueError, AttributeError):
        return None
    return exp if isinstance(exp, (int, float)) else None


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def publish(admin_url: str, topic: str, data: Any, *, token: str | None = None) -> int:
    """POST /v1/publish?topic=T with a JSON body; returns the message's seq."""
    request = urllib.request.Request(
        f"{admin_url}/v1/publish?topic={urllib.parse.quote(topic, safe='')}",
        data=json.dumps(data).encode(), method="POST", headers={"Content-Type": "application/json"})
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["seq"]
