"""Bad clients never hurt good ones: after each kind of misbehaviour the server
is alive, a good client on another connection still echoes, nothing leaks, and
the stats counters moved as expected."""

from __future__ import annotations

import os
import socket
import time

import pytest

import herald_e2e as H
from herald_e2e import OP_BINARY, OP_TEXT


def good_client_works(h: H.HeraldProcess) -> None:
    assert h.alive(), f"herald died (status {h.proc.poll()})"
    with H.RawWS.open(h.port, "/echo") as ws:
        ws.roundtrip(OP_TEXT, b"good client")
        ws.roundtrip(OP_BINARY, os.urandom(3000))
        ws.send_close(1000)
        ws.expect_close(reply=False)
    r = H.http_get(h.port, "/healthz")
    assert r.status == 200
    assert H.admin_get(h.admin_port, "/healthz").status == 200


def no_leak(h: H.HeraldProcess) -> dict:
    return H.wait_stat(h.admin_port, lambda s: s["connections"] == 0, desc="connections back to 0")


def failed(s: dict, reason: str) -> int:
    return s["handshakes_failed"].get(reason, 0)


def closes(s: dict, code: int) -> int:
    return s["closes"].get(str(code), 0)


@pytest.fixture
def h(start_herald):
    return start_herald("--enable-echo", "--message-bytes-max", "4096", "--handshake-timeout", "1")


# ---------------------------------------------------------------- kinds of bad client

def bad_garbage(h):
    with H.connect(h.port) as s:
        s.sendall(os.urandom(4096))
        H.SockReader(s).wait_eof(3)


def bad_garbage_line(h):
    with H.connect(h.port) as s:
        s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(200) + b"\r\n\r\n")  # TLS hello
        H.SockReader(s).wait_eof(3)


def bad_half_handshake(h):
    with H.connect(h.port) as s:
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
        assert H.SockReader(s).wait_eof(4), "half handshake not timed out"


def bad_half_handshake_reset(h):
    s = H.connect(h.port)
    s.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\n")
    time.sleep(0.05)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()


def bad_violation(h):
    with H.RawWS.open(h.port, "/echo") as ws:
        ws.send_frame(OP_TEXT, b"unmasked", mask=False)
        ws.expect_close_code(1002)


def bad_reset_mid_frame(h):
    ws = H.RawWS.open(h.port, "/echo")
    ws.roundtrip(OP_TEXT, b"before")
    raw = H.build_frame(OP_BINARY, os.urandom(1000))
    ws.send_raw(raw[:300])
    time.sleep(0.05)
    ws.reset()


def bad_reset_mid_fragmented(h):
    ws = H.RawWS.open(h.port, "/echo")
    ws.send_frame(OP_TEXT, b"part one", fin=False)
    time.sleep(0.05)
    ws.reset()


def bad_fin_without_close(h):
    ws = H.RawWS.open(h.port, "/echo")
    ws.send_raw(H.build_frame(OP_TEXT, b"x")[:3])
    ws.sock.shutdown(socket.SHUT_WR)
    ws.wait_eof(3)
    ws.close()


def bad_oversize(h):
    with H.RawWS.open(h.port, "/echo") as ws:
        ws.send_binary(b"a" * 5000)
        ws.expect_close_code(1009)


def bad_head_too_large(h):
    r = H.http_exchange(h.port, H.upgrade_request("/ws", "x", extra=[("X-Pad", "a" * 9000)]), check_close=True)
    H.assert_http_error(r, 431)


def bad_not_found(h):
    r = H.http_exchange(h.port, H.upgrade_request("/nope", "x"), check_close=True)
    H.assert_http_error(r, 404)


def bad_invalid_utf8(h):
    with H.RawWS.open(h.port, "/echo") as ws:
        ws.send_text(b"\xed\xa0\x80")
        ws.expect_close_code(1007)


def bad_churn(h):
    for _ in range(100):
        s = H.connect(h.port)
        s.close()
    for _ in range(50):
        H.RawWS.open(h.port, "/echo").reset()


def bad_non_reader(h):
    # Floods echoes without ever reading them; the server must not stall others.
    ws = H.RawWS.open(h.port, "/echo")
    frame = H.build_frame(OP_BINARY, b"z" * 4000)
    ws.sock.setblocking(False)
    sent, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < 1.5 and sent < 64 << 20:
        try:
            sent += ws.sock.send(frame)
        except (BlockingIOError, InterruptedError):
            time.sleep(0.01)
        except OSError:
            break  # the server may drop a slow consumer: fine
    good_client_works(h)  # while the flooder is still connected
    ws.sock.setblocking(True)
    ws.reset()


BAD = {
    "garbage": (bad_garbage, None),
    "tls-hello": (bad_garbage_line, None),
    "half-handshake": (bad_half_handshake, ("handshake", "timeout")),
    "half-handshake-reset": (bad_half_handshake_reset, None),
    "violation": (bad_violation, ("close", 1002)),
    "reset-mid-frame": (bad_reset_mid_frame, None),
    "reset-mid-fragmented": (bad_reset_mid_fragmented, None),
    "fin-mid-frame": (bad_fin_without_close, None),
    "oversize": (bad_oversize, ("close", 1009)),
    "head-too-large": (bad_head_too_large, ("handshake", "too_large")),
    "not-found": (bad_not_found, ("handshake", "not_found")),
    "invalid-utf8": (bad_invalid_utf8, ("close", 1007)),
    "churn": (bad_churn, None),
    "non-reader": (bad_non_reader, None),
}


@pytest.mark.parametrize("kind", list(BAD))
def test_good_client_unaffected(h, kind):
    fn, counter = BAD[kind]
    before = H.get_stats(h.admin_port)
    fn(h)
    good_client_works(h)
    after = no_leak(h)
    if counter is not None:
        what, key = counter
        if what == "handshake":
            H.wait_stat(h.admin_port, lambda s: failed(s, key) == failed(before, key) + 1,
                        desc=f"handshakes_failed.{key} incremented by 1")
        else:
            H.wait_stat(h.admin_port, lambda s: closes(s, key) == closes(before, key) + 1,
                        desc=f"closes.{key} incremented by 1")
    assert after["connections_total"] > before["connections_total"]  # the good client at least


def test_good_client_during_bad_ones(h):
    """A long-lived good connection keeps working while every bad kind happens."""
    with H.RawWS.open(h.port, "/echo") as good:
        for kind, (fn, _) in BAD.items():
            fn(h)
            good.roundtrip(OP_TEXT, f"after {kind}".encode())
    no_leak(h)
    assert h.alive()


def test_many_concurrent_pending_handshakes_do_not_block(h):
    pending = [H.connect(h.port) for _ in range(50)]
    try:
        for s in pending:
            s.sendall(b"GET /ws HTTP/1.1\r\n")
        t0 = time.monotonic()
        good_client_works(h)
        assert time.monotonic() - t0 < 2
    finally:
        for s in pending:
            s.close()
