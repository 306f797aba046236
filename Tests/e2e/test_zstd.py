"""The herald.zstd.v1 subprotocol (issue 11, first step: no dictionaries
yet): a client that offers it gets every published message that compresses
as one binary zstd frame, made once per publish and shared; other clients
are unchanged. Decoded here with `zstandard` (PyPI), an independent zstd."""

from __future__ import annotations

import asyncio
import json
import struct

import pytest
import websockets
import zstandard

import herald_e2e as H
from test_clients import HeraldClient, Message  # noqa: E402 (Clients/python on the path)

SUBPROTOCOL = "herald.zstd.v1"


def publish(h, topic: str, body: bytes, content_type: str = "application/json") -> dict:
    r = H.admin_request(h.admin_port, "POST", f"/v1/publish?topic={topic}", body=body, content_type=content_type)
    assert r.status == 200, r.body
    return r.json()


def decode(frame):
    """A server frame as the message a plain subscriber would get: (is_text, bytes)."""
    if isinstance(frame, str):
        return True, frame.encode()
    if frame[:1] != b"Z":
        return False, frame  # a binary envelope, uncompressed
    kind, dictionary = frame[1], struct.unpack(">I", frame[2:6])[0]
    assert kind in (1, 2) and dictionary == 0
    size = zstandard.frame_content_size(frame[6:])
    assert 0 < size <= 1 << 20  # the frame states its size: a client can refuse a bomb first
    return kind == 1, zstandard.ZstdDecompressor().decompress(frame[6:], max_output_size=size)


def test_the_subprotocol_is_answered_only_when_offered(herald):
    async def scenario():
        async with websockets.connect(f"ws://127.0.0.1:{herald.port}/ws", subprotocols=[SUBPROTOCOL],
                                      compression="deflate") as ws:
            assert ws.subprotocol == SUBPROTOCOL
            # zstd replaces permessage-deflate: not negotiated alongside.
            assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
        async with websockets.connect(f"ws://127.0.0.1:{herald.port}/ws", subprotocols=["other.v1"]) as ws:
            assert ws.subprotocol is None
        async with websockets.connect(f"ws://127.0.0.1:{herald.port}/ws", compression="deflate") as ws:
            assert ws.subprotocol is None
            assert "permessage-deflate" in ws.response.headers.get("Sec-WebSocket-Extensions", "")

    H.run_async(scenario())


def test_every_publish_is_compressed_once_and_shared(herald):
    """Two zstd subscribers get byte-identical frames; a plain one gets the
    same message uncompressed; small messages stay uncompressed."""
    async def scenario():
        url = f"ws://127.0.0.1:{herald.port}/ws?topics=prices"
        async with websockets.connect(url, subprotocols=[SUBPROTOCOL]) as a, \
                websockets.connect(url, subprotocols=[SUBPROTOCOL]) as b, websockets.connect(url) as plain:
            await asyncio.to_thread(H.wait_until, lambda: H.get_stats(herald.admin_port)["subscriptions"] >= 3, 10,
                                    desc="three subscriptions")
            tick = {"symbol": "EURUSD", "bid": 1.08345, "ask": 1.08351, "book": [[1.0834, 5e6]] * 20}
            body = json.dumps(tick).encode()
            await asyncio.to_thread(publish, herald, "prices", body)
            first, second, reference = await a.recv(), await b.recv(), await plain.recv()
            assert isinstance(first, bytes) and first == second and first[:2] == b"Z\x01"
            assert len(first) < len(reference)
            is_text, text = decode(first)
            assert is_text and json.loads(text) == json.loads(reference)
            assert json.loads(text)["data"] == tick
            # Too small to pay: the plain text frame.
            await asyncio.to_thread(publish, herald, "prices", b'{"x":1}')
            small = await a.recv()
            assert isinstance(small, str) and json.loads(small)["data"] == {"x": 1}
            # A binary publish: its envelope compressed, kind 2.
            blob = bytes(range(256)) * 8
            await asyncio.to_thread(publish, herald, "prices", blob, "application/octet-stream")
            is_text, envelope = decode(await a.recv())
            assert not is_text and envelope[0] == 1 and envelope.endswith(blob)
            # Control messages stay JSON text.
            await a.send(json.dumps({"type": "ping"}))
            assert json.loads(await a.recv()) == {"type": "pong"}

    H.run_async(scenario())


def test_the_python_client_decodes_zstd_frames(herald):
    async def scenario():
        async with HeraldClient(f"ws://127.0.0.1:{herald.port}/ws", compression="zstd", min_delay=0.1) as client:
            await client.subscribe("chat")
            await asyncio.to_thread(H.wait_until, lambda: H.get_stats(herald.admin_port)["subscriptions"] >= 1, 10,
                                    desc="the subscription")
            events = [{"user": f"u{i}", "text": "hello there, how is it going today? " * 4, "n": i} for i in range(3)]
            for event in events:
                await asyncio.to_thread(publish, herald, "chat", json.dumps(event).encode())
            received = [await asyncio.wait_for(client.__anext__(), 10) for _ in events]
            assert all(isinstance(m, Message) for m in received)
            assert [m.data for m in received] == events and [m.seq for m in received] == [1, 2, 3]
            assert client._socket.subprotocol == SUBPROTOCOL

    H.run_async(scenario())
