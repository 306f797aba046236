#!/usr/bin/env python3
"""Bytes per message on the wire by codec, for two generated JSON streams (a
measurement for Docs/BENCHMARKS.md, not a test).

Streams (made here, seeded): **chat** — `message.created` events of a chat
room (user, text from a small vocabulary, timestamps, flags), ~190 B as
herald frames them; **prices** — order-book ticks (symbol from 20, bid/ask
with five decimals, sizes, venue, sequence), ~170 B.

For each stream: 1,000 messages are published to a topic, herald trains a
dictionary from them (`POST /v1/topics/T/dictionary`), 1,000 more are
published. For the second 1,000 it reports the average message size as a
plain subscriber receives it, as permessage-deflate without context
takeover would send it (zlib raw deflate, level 6, sync flush — what herald
does, computed here), as zstd without a dictionary (level 3, computed
here), and as herald's `herald.zstd.v1` frames with the dictionary (the
frames a subscriber actually received, header included); and the client's
decode time per message (python-zstandard, one decompressor with the
dictionary).

    LoadGen/scripts/zstd_sizes.py HERALD_BINARY
"""
import asyncio
import json
import random
import struct
import sys
import time
import zlib
from pathlib import Path

import websockets
import zstandard

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Tests" / "e2e"))
import herald_e2e as H  # noqa: E402


def chat(rng: random.Random, i: int) -> dict:
    users = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
    words = "ok sure thanks see you tomorrow the meeting is moved to 3pm can we talk later lol nice one".split()
    return {"event": "message.created", "room": rng.choice(["general", "random", "ops", "design"]),
            "user": {"id": 1000 + rng.randrange(8), "name": rng.choice(users)},
            "text": " ".join(rng.choice(words) for _ in range(rng.randrange(2, 9))),
            "ts": 1764300000 + i * 7 + rng.randrange(7), "reactions": [], "edited": rng.random() < 0.05}


def price(rng: random.Random, i: int) -> dict:
    symbols = [f"{a}{b}" for a in ("EUR", "USD", "GBP", "JPY", "CHF") for b in ("USD", "JPY", "CHF", "GBP")][:20]
    mid = 1 + rng.random()
    return {"type": "tick", "symbol": rng.choice(symbols), "bid": round(mid, 5), "ask": round(mid + 0.0002, 5),
            "bid_size": rng.choice([1, 2, 5, 10]) * 1_000_000, "ask_size": rng.choice([1, 2, 5, 10]) * 1_000_000,
            "venue": rng.choice(["EBS", "RTM", "LMAX"]), "seq": 500000 + i}


def deflate_size(message: bytes) -> int:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    out = compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return min(len(out) - 4, len(message))  # herald sends it plain when deflate does not pay


async def measure(h, name: str, make) -> None:
    rng = random.Random(7)
    url = f"ws://127.0.0.1:{h.port}/ws?topics={name}"
    async with websockets.connect(url, subprotocols=["herald.zstd.v1"], max_size=None) as zws, \
            websockets.connect(url, compression=None, max_size=None) as plain:
        await asyncio.to_thread(H.wait_until, lambda: H.get_stats(h.admin_port)["subscriptions"] >= 2, 10)
        for i in range(1000):
            body = json.dumps(make(rng, i)).encode()
            H.admin_request(h.admin_port, "POST", f"/v1/publish?topic={name}", body=body, content_type="application/json")
        for _ in range(1000):
            await zws.recv()
            await plain.recv()
        trained = H.admin_request(h.admin_port, "POST", f"/v1/topics/{name}/dictionary").json()
        for i in range(1000, 2000):
            body = json.dumps(make(rng, i)).encode()
            H.admin_request(h.admin_port, "POST", f"/v1/publish?topic={name}", body=body, content_type="application/json")
        frames, texts = [], []
        dictionary = None
        while len(texts) < 1000:
            texts.append((await plain.recv()).encode())
        while len(frames) < 1000:
            frame = await zws.recv()
            if isinstance(frame, bytes) and frame[:2] == b"Z\x03":
                dictionary = zstandard.ZstdCompressionDict(frame[7 + frame[6]:])
                continue
            frames.append(frame)
    raw = sum(map(len, texts)) / 1000
    deflated = sum(deflate_size(t) for t in texts) / 1000
    plain_zstd = zstandard.ZstdCompressor(level=3, write_content_size=True)
    zstd_alone = sum(min(len(plain_zstd.compress(t)) + 6, len(t)) for t in texts) / 1000
    with_dict = sum(len(f) if isinstance(f, bytes) else len(f.encode()) for f in frames) / 1000
    decompressor = zstandard.ZstdDecompressor(dict_data=dictionary)
    started = time.perf_counter()
    for frame in frames:
        if isinstance(frame, bytes) and frame[:1] == b"Z":
            decompressor.decompress(frame[6:], max_output_size=zstandard.frame_content_size(frame[6:]))
    decode_us = (time.perf_counter() - started) / len(frames) * 1e6
    print(f"{name}: dictionary {trained['bytes']} B from {trained['samples']} messages; per message: raw {raw:.0f} B, "
          f"deflate {deflated:.0f} B ({deflated / raw:.2f}), zstd {zstd_alone:.0f} B ({zstd_alone / raw:.2f}), "
          f"zstd+dictionary {with_dict:.0f} B ({with_dict / raw:.2f}, {with_dict / deflated:.2f}x deflate); "
          f"client decode {decode_us:.1f} us per message")


def main() -> None:
    h = H.HeraldProcess([sys.argv[1], "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                         "--history-size", "1000"], H.clean_env()).wait_ready()
    try:
        asyncio.run(measure(h, "chat", chat))
        asyncio.run(measure(h, "prices", price))
    finally:
        h.kill()


if __name__ == "__main__":
    main()
