"""Heartbeats (CONTRACT: Heartbeats) with --ping-interval 0.5 --pong-timeout 0.5."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

import herald_e2e as H
from herald_e2e import OP_CLOSE, OP_PING, OP_PONG

FAST = ("--ping-interval", "0.5", "--pong-timeout", "0.5")


@pytest.fixture
def fast(start_herald):
    return start_herald("--enable-echo", *FAST)


def test_silent_client_gets_ping(fast):
    with H.RawWS.open(fast.port, "/ws") as ws:
        t0 = time.monotonic()
        f = ws.recv_frame(timeout=2.0)
        elapsed = time.monotonic() - t0
        assert f.opcode == OP_PING, f"expected a ping first, got {f!r}"
        assert elapsed >= 0.1, f"ping after {elapsed:.2f}s: earlier than any sane share of a 0.5 s interval"


def test_unresponsive_client_dropped(fast):
    with H.RawWS.open(fast.port, "/ws") as ws:
        t0 = time.monotonic()
        got_ping = False
        while True:
            remaining = 4.0 - (time.monotonic() - t0)
            if remaining <= 0:
                pytest.fail("a client that never answers pings was not dropped within 4 s")
            try:
                f = ws.recv_frame(timeout=remaining)
            except H.ConnectionEnded:
                break
            except TimeoutError:
                continue
            if f.opcode == OP_PING:
                got_ping = True  # and deliberately not answered
            elif f.opcode == OP_CLOSE:
                # A close frame before dropping is allowed; never answered, TCP must still end.
                ws.expect_eof(max(0.1, 4.0 - (time.monotonic() - t0)))
                break
        elapsed = time.monotonic() - t0
        assert got_ping, "dropped without ever being pinged"
        assert elapsed >= 0.5, f"dropped after {elapsed:.2f}s: before interval + timeout could pass"


def test_answering_raw_client_stays_connected(fast):
    with H.RawWS.open(fast.port, "/echo") as ws:
        t0 = time.monotonic()
        pings = 0
        while time.monotonic() - t0 < 3.2:
            try:
                f = ws.recv_frame(timeout=0.2)
            except TimeoutError:
                continue
            if f.opcode == OP_PING:
                pings += 1
                ws.send_frame(OP_PONG, f.payload)
            else:
                pytest.fail(f"unexpected frame while idle: {f!r}")
        assert pings >= 2, f"only {pings} pings in 3.2 s with a 0.5 s interval"
        ws.roundtrip(H.OP_TEXT, b"still alive")


def test_library_client_stays_connected(fast):
    # websockets answers pings by itself (and sends none: ping_interval=None).
    async def go():
        async with H.lib_connect(fast.port, "/ws") as c:
            await asyncio.sleep(3.2)
            await c.send('{"type":"ping"}')
            assert json.loads(await H.within(c.recv())) == {"type": "pong"}
    H.run_async(go(), 15)


def test_active_client_not_dropped_without_pongs(fast):
    # Traffic counts as "heard from": a client that sends a message every 0.2 s
    # and ignores pings stays connected.
    with H.RawWS.open(fast.port, "/echo") as ws:
        t0 = time.monotonic()
        n = 0
        while time.monotonic() - t0 < 3.2:
            n += 1
            msg = f"tick{n}".encode()
            ws.send_text(msg)
            assert ws.recv_message(timeout=2.0, answer_pings=False) == (H.OP_TEXT, msg)
            time.sleep(0.2)
        ws.roundtrip(H.OP_TEXT, b"still alive")


def test_no_ping_before_default_interval(herald):
    # Default interval is 25 s: a fresh idle client hears nothing for 2 s.
    with H.RawWS.open(herald.port, "/ws") as ws:
        with pytest.raises(TimeoutError):
            f = ws.recv_frame(timeout=2.0)
            pytest.fail(f"unexpected frame from an idle connection: {f!r}")
