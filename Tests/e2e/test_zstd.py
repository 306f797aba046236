"""The herald.zstd.v1 subprotocol (issue 11, first step: no dictionaries
yet): a client that offers it gets every published message that compresses
as one binary zstd frame, made once per publish and shared; other clients
are unchanged. Decoded here with `zstandard` (PyPI), an independent zstd."""

from __future__ import annotations

import asyncio
import json
import struct
import time

import pytest
import websockets
import zstandard

import herald_e2e as H
from test_clients import HeraldClient, Message  # noqa: E402 (Clients/python on the path)
from herald_client import decode_zstd_dictionary, decode_zstd_frame  # noqa: E402

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


def test_the_python_client_reports_an_undecodable_frame_and_reconnects():
    """A frame naming a dictionary the client never got: reported as
    ServerError("zstd_frame"), the connection closed with 4000 and opened
    again (resubscribing, so the server would replay the message)."""
    from herald_client import ServerError

    async def scenario():
        from websockets.asyncio.server import serve
        connections: list[str] = []
        closes: list[int] = []

        async def handler(ws):
            connections.append(ws.request.path)
            if len(connections) == 1:
                await ws.send(b"Z\x01\x00\x00\x00\x07" + zstandard.ZstdCompressor().compress(b"{}"))
            try:
                async for _ in ws:
                    pass
            finally:
                closes.append(ws.close_code)

        async with serve(handler, "127.0.0.1", 0, subprotocols=[SUBPROTOCOL]) as server:
            port = server.sockets[0].getsockname()[1]
            async with HeraldClient(f"ws://127.0.0.1:{port}/ws", compression="zstd", min_delay=0.05,
                                    max_delay=0.1) as client:
                error = await asyncio.wait_for(client.events.get(), 10)
                while not isinstance(error, ServerError):
                    error = await asyncio.wait_for(client.events.get(), 10)
                assert error.code == "zstd_frame" and "7" in error.message, error
                await asyncio.to_thread(H.wait_until, lambda: len(connections) >= 2, 10, desc="the reconnect")
            assert closes[0] == 4000, closes

    H.run_async(scenario(), 30)


def test_the_python_client_lists_the_dictionaries_it_holds_when_it_reconnects():
    client = HeraldClient("ws://127.0.0.1:1/ws?topics=a", compression="zstd", token="t k")
    assert client.url == "ws://127.0.0.1:1/ws?topics=a&token=t%20k"
    for ident in range(1, 21):
        client.dictionaries[ident] = b"d"
    assert client.url.endswith("&zstd_dicts=" + ",".join(str(i) for i in range(20, 4, -1)))
    assert "zstd_dicts" not in HeraldClient("ws://h/ws", compression="deflate").url


def test_compress_min_bytes_and_deflate_level(start_herald):
    """--compress-min-bytes: shorter messages go out plain to deflate and to
    dictionary-less zstd subscribers (RSV1 clear, a JSON text frame); at the
    minimum both are compressed. --deflate-level is accepted (zlib's level)."""
    text = {"text": "the quick brown fox jumps over the lazy dog " * 8}
    # The envelope a subscriber gets: the published JSON embedded as sent.
    size = len('{"type":"message","topic":"m","seq":1,"data":' + json.dumps(text) + "}")

    def first_frames(h) -> tuple:
        deflate = H.RawWS.open(h.port, "/ws?topics=m", extra=[("Sec-WebSocket-Extensions", "permessage-deflate")])
        zstd = H.RawWS.open(h.port, "/ws?topics=m", extra=[("Sec-WebSocket-Protocol", SUBPROTOCOL)])
        with deflate, zstd:
            H.wait_until(lambda: H.admin_get(h.admin_port, "/v1/topics/m").json()["subscribers"] == 2, 10,
                         desc="both subscribed")
            r = H.admin_request(h.admin_port, "POST", "/v1/publish?topic=m", body=json.dumps(text).encode(),
                                content_type="application/json")
            assert r.status == 200
            frames = []
            for ws in (deflate, zstd):
                deadline = time.monotonic() + 10
                while (parsed := H.parse_frame(ws.reader.buf)) is None:
                    assert ws.reader._fill(deadline), "no frame"
                frames.append(parsed[0])
            return frames

    deflated, zstd = first_frames(start_herald("--compress-min-bytes", str(size + 1), "--deflate-level", "1"))
    assert deflated.rsv == 0 and json.loads(deflated.payload)["data"] == text, "under the minimum: plain"
    assert zstd.opcode == H.OP_TEXT and json.loads(zstd.payload)["data"] == text
    deflated, zstd = first_frames(start_herald("--compress-min-bytes", str(size), "--deflate-level", "9"))
    assert deflated.rsv == 4 and len(deflated.payload) < size / 3, "at the minimum: compressed"
    assert zstd.opcode == H.OP_BINARY and zstd.payload[:2] == b"Z\x01"


def chat_event(i: int) -> dict:
    """A chat stream's event: the same fields and similar values each time."""
    users = ["alice", "bob", "carol", "dave", "erin"]
    texts = ["on my way", "sounds good to me", "can we move the meeting to 3pm?", "lol", "see you tomorrow"]
    return {"event": "message.created", "room": "general", "user": {"id": 1000 + i % 5, "name": users[i % 5]},
            "text": texts[(i * 7) % 5], "ts": 1764300000 + i * 13, "reactions": [], "edited": False}


def train(h, topic: str):
    return H.admin_request(h.admin_port, "POST", f"/v1/topics/{topic}/dictionary")


async def receive_all(ws, count: int) -> list:
    return [await asyncio.wait_for(ws.recv(), 10) for _ in range(count)]


def test_a_trained_dictionary_goes_only_to_the_topics_subscribers_once(start_herald):
    herald = start_herald("--history-size", "300")

    async def scenario():
        base = f"ws://127.0.0.1:{herald.port}/ws"
        async with websockets.connect(base + "?topics=chat", subprotocols=[SUBPROTOCOL]) as a, \
                websockets.connect(base + "?topics=other", subprotocols=[SUBPROTOCOL]) as b, \
                websockets.connect(base + "?topics=chat") as plain:
            await asyncio.to_thread(H.wait_until, lambda: H.get_stats(herald.admin_port)["subscriptions"] >= 3, 10,
                                    desc="three subscriptions")
            for i in range(200):
                await asyncio.to_thread(publish, herald, "chat", json.dumps(chat_event(i)).encode())
            before = await receive_all(a, 200)
            await receive_all(plain, 200)
            r = train(herald, "chat")
            assert r.status == 200, r.body
            trained = r.json()
            assert trained["topic"] == "chat" and trained["dictionary"] >= 1 and trained["samples"] == 200
            assert 0 < trained["bytes"] <= 16384 and trained["replaced"] is None
            for i in range(200, 220):
                await asyncio.to_thread(publish, herald, "chat", json.dumps(chat_event(i)).encode())
            after = await receive_all(a, 21)
            reference = await receive_all(plain, 20)
            # The dictionary first, once, then every message made with it.
            assert after[0][:2] == b"Z\x03"
            ident, topic, data = struct.unpack(">I", after[0][2:6])[0], after[0][7:7 + after[0][6]].decode(), after[0][7 + after[0][6]:]
            assert ident == trained["dictionary"] and topic == "chat" and len(data) == trained["bytes"]
            dictionary = zstandard.ZstdCompressionDict(data)
            sizes_with = []
            for frame, text in zip(after[1:], reference):
                assert frame[:2] == b"Z\x01" and struct.unpack(">I", frame[2:6])[0] == ident
                size = zstandard.frame_content_size(frame[6:])
                message = zstandard.ZstdDecompressor(dict_data=dictionary).decompress(frame[6:], max_output_size=size)
                assert json.loads(message) == json.loads(text)
                sizes_with.append(len(frame))
            # Messages this small did not pay without a dictionary (sent plain); with it they shrink.
            plain_sizes = [len(text.encode()) for text in reference]
            assert sum(sizes_with) < 0.6 * sum(plain_sizes)
            assert all(isinstance(frame, str) or frame[2:6] == b"\0\0\0\0" for frame in before)
            # The other topic's subscriber never saw the dictionary.
            await asyncio.to_thread(publish, herald, "other", json.dumps({"n": 1}).encode())
            first = await asyncio.wait_for(b.recv(), 10)
            assert isinstance(first, str) and json.loads(first)["topic"] == "other"
            metrics = H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode())
            assert H.prom_value(metrics, "herald_zstd_dictionaries_sent_total") == 1
            assert H.prom_value(metrics, "herald_zstd_dictionaries") == 1
            assert H.prom_value(metrics, "herald_zstd_dictionary_bytes") > trained["bytes"]

    H.run_async(scenario())


def test_a_new_subscriber_gets_the_dictionary_before_its_first_message(start_herald):
    herald = start_herald("--history-size", "100")
    for i in range(50):
        publish(herald, "feed", json.dumps(chat_event(i)).encode())
    assert train(herald, "feed").status == 200
    again = train(herald, "feed").json()  # retrained: a new id, the old one replaced
    assert again["replaced"] == again["dictionary"] - 1

    async def scenario():
        async with HeraldClient(f"ws://127.0.0.1:{herald.port}/ws", compression="zstd", min_delay=0.1) as client:
            await client.subscribe("feed")
            await asyncio.to_thread(H.wait_until, lambda: H.get_stats(herald.admin_port)["subscriptions"] >= 1, 10,
                                    desc="the subscription")
            events = [chat_event(i) for i in range(50, 55)]
            for event in events:
                await asyncio.to_thread(publish, herald, "feed", json.dumps(event).encode())
            received = [await asyncio.wait_for(client.__anext__(), 10) for _ in events]
            assert [m.data for m in received] == events
            assert list(client.dictionaries) == [again["dictionary"]]

    H.run_async(scenario())


def test_dictionary_requests_that_cannot_be_served(start_herald):
    herald = start_herald("--history-size", "100", "--zstd-dictionaries-max", "1")
    assert train(herald, "never-used").status == 404
    publish(herald, "few", b'{"a":1}')
    r = train(herald, "few")
    assert r.status == 422 and "at least" in r.json()["error"]
    assert H.admin_request(herald.admin_port, "GET", "/v1/topics/few/dictionary").status == 405
    for topic in ("one", "two"):
        for i in range(40):
            publish(herald, topic, json.dumps(chat_event(i)).encode())
    assert train(herald, "one").status == 200
    refused = train(herald, "two")
    assert refused.status == 409 and "--zstd-dictionaries-max" in refused.json()["error"]
    assert train(herald, "one").status == 200  # replacing its own is not a new one


def test_train_after_n_messages_and_dictionaries_a_client_holds(start_herald):
    """--zstd-train-after: the topic's Nth message trains its dictionary;
    `zstd_dicts=ID` on the URL: a dictionary the client already holds is
    not sent again."""
    herald = start_herald("--history-size", "100", "--zstd-train-after", "40")
    for i in range(40):
        publish(herald, "auto", json.dumps(chat_event(i)).encode())
    metrics = lambda: H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode())  # noqa: E731
    # Trained on the trainer thread, off the admin thread that published the 40th.
    H.wait_until(lambda: H.prom_value(metrics(), "herald_zstd_dictionaries") == 1, 30, desc="the trained dictionary")
    assert H.prom_value(metrics(), "herald_zstd_trainings_total") == 1
    assert H.prom_value(metrics(), "herald_zstd_trainings_queued") == 0
    assert H.prom_value(metrics(), "herald_zstd_trainings_skipped_total") == 0

    async def scenario():
        base = f"ws://127.0.0.1:{herald.port}/ws?topics=auto"
        async with websockets.connect(base, subprotocols=[SUBPROTOCOL]) as first:
            await asyncio.to_thread(H.wait_until, lambda: H.get_stats(herald.admin_port)["subscriptions"] >= 1, 10,
                                    desc="the subscription")
            await asyncio.to_thread(publish, herald, "auto", json.dumps(chat_event(40)).encode())
            dictionary = await first.recv()
            assert dictionary[:2] == b"Z\x03"
            ident = struct.unpack(">I", dictionary[2:6])[0]
            message = await first.recv()
            assert message[:2] == b"Z\x01" and struct.unpack(">I", message[2:6])[0] == ident
        await asyncio.to_thread(H.wait_until, lambda: H.get_stats(herald.admin_port)["subscriptions"] == 0, 10,
                                desc="the first connection gone")
        async with websockets.connect(base + f"&zstd_dicts=9999,{ident}", subprotocols=[SUBPROTOCOL]) as again:
            await asyncio.to_thread(H.wait_until, lambda: H.get_stats(herald.admin_port)["subscriptions"] >= 1, 10,
                                    desc="the subscription")
            await asyncio.to_thread(publish, herald, "auto", json.dumps(chat_event(41)).encode())
            frame = await again.recv()
            assert frame[:2] == b"Z\x01" and struct.unpack(">I", frame[2:6])[0] == ident  # no dictionary first

    H.run_async(scenario())
    assert H.prom_value(metrics(), "herald_zstd_dictionaries_sent_total") == 1
    for bad in ("abc", "0", ",".join(str(n) for n in range(1, 18))):
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            H.run_async(websockets.connect(f"ws://127.0.0.1:{herald.port}/ws?zstd_dicts={bad}",
                                           subprotocols=[SUBPROTOCOL]).__aenter__())
        assert refused.value.response.status_code == 400


def test_a_recovery_replays_the_kept_zstd_frames_with_their_dictionary(start_herald):
    """Kept messages are replayed as they were sent live: the zstd frames
    (byte-identical), the dictionary first when this subscription has not
    had it (not at all when the client lists it in zstd_dicts=), old
    dictionaries kept alive by the history for messages made with them, and
    plain frames for what did not compress."""
    herald = start_herald("--history-size", "200")
    for i in range(60):
        publish(herald, "rc", json.dumps(chat_event(i)).encode())
    assert train(herald, "rc").status == 200
    metrics = lambda: H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode())  # noqa: E731
    url = f"ws://127.0.0.1:{herald.port}/ws"

    async def live_then_replay():
        async with websockets.connect(url, subprotocols=[SUBPROTOCOL], compression=None) as ws:
            await ws.send(json.dumps({"type": "subscribe", "topic": "rc"}))
            subscribed = json.loads(await ws.recv())
            for i in range(60, 65):
                await asyncio.to_thread(publish, herald, "rc", json.dumps(chat_event(i)).encode())
            first = await receive_all(ws, 6)  # the dictionary, then 5 messages
            # Retrained (this zstd connection still open, so messages are
            # compressed): the next use a new dictionary, the kept ones the old.
            assert (await asyncio.to_thread(train, herald, "rc")).status == 200
            for i in range(65, 68):
                await asyncio.to_thread(publish, herald, "rc", json.dumps(chat_event(i)).encode())
            await receive_all(ws, 4)
        assert first[0][:2] == b"Z\x03" and all(f[:2] == b"Z\x01" for f in first[1:]), [f[:6] for f in first]
        ident = struct.unpack(">I", first[0][2:6])[0]
        since = {"seq": 60, "epoch": subscribed["epoch"]}
        async with websockets.connect(url, subprotocols=[SUBPROTOCOL], compression=None) as ws:
            await ws.send(json.dumps({"type": "subscribe", "topic": "rc", "since": since}))
            reply = json.loads(await ws.recv())
            assert reply["recovered"] is True and reply["seq"] == 68, reply
            replay = await receive_all(ws, 10)  # dictionary A, 5 messages, dictionary B, 3 messages
        kinds = [(f[1], struct.unpack(">I", f[2:6])[0]) for f in replay]
        assert kinds[0] == (3, ident) and kinds[1:6] == [(1, ident)] * 5, kinds
        assert kinds[6][0] == 3 and kinds[6][1] != ident and kinds[7:] == [(1, kinds[6][1])] * 3, kinds
        assert replay[1:6] == first[1:], "the kept frames, byte for byte"
        dictionaries = {ident: replay[0], kinds[6][1]: replay[6]}
        decoded = [json.loads(decode_zstd_frame(frame, dictionaries={k: decode_zstd_dictionary(v)[2] for k, v in dictionaries.items()})[1])["data"]
                   for frame in replay if frame[1] == 1]
        assert decoded == [chat_event(i) for i in range(60, 68)]
        # Holding both dictionaries (zstd_dicts=): the replay is the messages only.
        held = ",".join(str(n) for n in dictionaries)
        async with websockets.connect(f"{url}?zstd_dicts={held}", subprotocols=[SUBPROTOCOL],
                                      compression=None) as ws:
            await ws.send(json.dumps({"type": "subscribe", "topic": "rc", "since": since}))
            assert json.loads(await ws.recv())["recovered"] is True
            again = await receive_all(ws, 8)
        assert [f[1] for f in again] == [1] * 8 and again == [f for f in replay if f[1] == 1]

    sent_before = H.prom_value(metrics(), "herald_zstd_dictionaries_sent_total") or 0
    H.run_async(live_then_replay(), 30)
    # Live: A, B; the first replay: A, B again; the second: none.
    assert H.prom_value(metrics(), "herald_zstd_dictionaries_sent_total") - sent_before == 4
    assert H.prom_value(metrics(), "herald_messages_replayed_total") == 16


def test_the_python_client_keeps_at_most_64_dictionaries():
    """A server that keeps sending new dictionaries (retraining, many topics)
    cannot grow the client's table: the oldest go (the server sends again
    what a resubscribe needs)."""
    client = HeraldClient("ws://127.0.0.1:9/ws", compression="zstd")
    for ident in range(1, 71):
        client._handle(b"Z\x03" + struct.pack(">I", ident) + bytes([1]) + b"t" + b"dictionary bytes")
    assert len(client.dictionaries) == 64
    assert min(client.dictionaries) == 7 and max(client.dictionaries) == 70
