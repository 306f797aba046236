"""SIGTERM / SIGINT: stop accepting, close every WebSocket with 1001, exit 0."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

import herald_e2e as H

from websockets.exceptions import ConnectionClosed


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_closes_clients_1001_and_exits_0(start_herald, sig):
    h = start_herald("--enable-echo", "--shutdown-timeout", "5")

    async def go():
        clients = [await H.lib_connect(h.port, "/echo") for _ in range(3)]
        for c in clients:
            await c.send("hi")
            assert await H.within(c.recv()) == "hi"
        raw = H.RawWS.open(h.port, "/ws")
        H.wait_stat(h.admin_port, lambda s: s["connections"] == 4, desc="4 connections")
        t0 = time.monotonic()
        h.send_signal(sig)
        for c in clients:
            try:
                msg = await H.within(c.recv(), 5)
                pytest.fail(f"expected the connection to close, got {msg!r}")
            except ConnectionClosed as e:
                assert e.rcvd is not None, "connection dropped without a close frame"
                assert e.rcvd.code == 1001, f"close code {e.rcvd.code}, want 1001"
        f = raw.expect_close(timeout=5)  # replies, like a good client
        assert f.close_code == 1001
        raw.expect_eof(5)
        raw.close()
        return t0

    t0 = H.run_async(go(), 30)
    status = h.wait_exit(6)
    assert status == 0, f"exit status {status}"
    assert time.monotonic() - t0 < 5, "exit took longer than the shutdown timeout with cooperative clients"


def test_idle_server_exits_fast(herald):
    t0 = time.monotonic()
    assert herald.stop(signal.SIGTERM, timeout=5) == 0
    assert time.monotonic() - t0 < 3


def test_unresponsive_client_bounded_by_shutdown_timeout(start_herald):
    h = start_herald("--enable-echo", "--shutdown-timeout", "2")
    ws = H.RawWS.open(h.port, "/echo")
    try:
        ws.roundtrip(H.OP_TEXT, b"hello")
        t0 = time.monotonic()
        h.send_signal(signal.SIGTERM)
        f = ws.expect_close(timeout=3, reply=False)  # never answer the close
        assert f.close_code == 1001
        # While the server waits for our close reply it must not accept new WebSockets.
        try:
            other = H.RawWS.open(h.port, "/echo", timeout=2)
        except (AssertionError, OSError, EOFError, TimeoutError):
            pass
        else:
            other.close()
            pytest.fail("a new WebSocket was accepted during shutdown")
        status = h.wait_exit(5)
        elapsed = time.monotonic() - t0
        assert status == 0, f"exit status {status}"
        assert elapsed < 4.5, f"shutdown took {elapsed:.1f}s with --shutdown-timeout 2"
        assert ws.wait_eof(1)
    finally:
        ws.close()


def test_listener_closed_after_exit(herald):
    port = herald.port
    assert herald.stop() == 0
    with pytest.raises(OSError):
        H.connect(port, timeout=2).close()


def test_shutdown_mid_fragmented_message(start_herald):
    h = start_herald("--enable-echo", "--shutdown-timeout", "3")
    with H.RawWS.open(h.port, "/echo") as ws:
        ws.send_frame(H.OP_TEXT, b"half", fin=False)
        H.wait_stat(h.admin_port, lambda s: s["bytes_received_total"] > 0, desc="bytes received")
        h.send_signal(signal.SIGTERM)
        f = ws.expect_close(timeout=4)
        assert f.close_code == 1001
    assert h.wait_exit(5) == 0


def test_many_clients_all_get_1001(start_herald):
    h = start_herald("--enable-echo", "--shutdown-timeout", "5")

    async def go():
        clients = await asyncio.gather(*[H.lib_connect(h.port, "/echo") for _ in range(50)])
        H.wait_stat(h.admin_port, lambda s: s["connections"] == 50, desc="50 connections")
        h.send_signal(signal.SIGTERM)
        codes = []
        for c in clients:
            try:
                await H.within(c.recv(), 5)
            except ConnectionClosed as e:
                codes.append(e.rcvd.code if e.rcvd else None)
        assert codes == [1001] * 50, codes

    H.run_async(go(), 30)
    assert h.wait_exit(6) == 0
