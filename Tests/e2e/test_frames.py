"""RFC 6455 framing on /echo: echo, lengths, fragmentation, control frames,
violations and their close codes, the close handshake."""

from __future__ import annotations

import os
import time

import pytest

import herald_e2e as H
from herald_e2e import OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT


@pytest.fixture
def ws(echo_herald):
    with H.RawWS.open(echo_herald.port, "/echo") as c:
        yield c


# ---------------------------------------------------------------- echo

@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY], ids=["text", "binary"])
@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 300, 65535], ids=lambda n: f"len{n}")
def test_echo_sizes(ws, opcode, size):
    payload = (b"abcdefghij" * (size // 10 + 1))[:size] if opcode == OP_TEXT else os.urandom(size)
    ws.roundtrip(opcode, payload)  # recv_frame also asserts minimal length encoding


def test_echo_64bit_length(start_herald):
    h = start_herald("--enable-echo", "--message-bytes-max", "300000")
    with H.RawWS.open(h.port, "/echo") as ws:
        payload = os.urandom(70000)
        ws.send_binary(payload)
        frame_op, data = ws.recv_message(10)
        assert (frame_op, data) == (OP_BINARY, payload)


def test_echo_64bit_length_text(start_herald):
    h = start_herald("--enable-echo", "--message-bytes-max", "300000")
    with H.RawWS.open(h.port, "/echo") as ws:
        ws.roundtrip(OP_TEXT, ("ü" * 50000).encode(), timeout=10)  # 100000 bytes


def test_echo_many_messages_in_one_write(ws):
    msgs = [f"m{i}".encode() for i in range(200)]
    ws.send_raw(b"".join(H.build_frame(OP_TEXT, m) for m in msgs))
    for m in msgs:
        assert ws.recv_message() == (OP_TEXT, m)


def test_echo_frame_split_across_writes(ws):
    raw = H.build_frame(OP_BINARY, os.urandom(1000))
    payload_expected = H.parse_frame(raw)[0].payload
    for i in range(0, len(raw), 7):
        ws.send_raw(raw[i:i + 7])
    assert ws.recv_message() == (OP_BINARY, payload_expected)


def test_echo_with_zero_mask_key(ws):
    ws.send_frame(OP_TEXT, b"zero mask", mask_key=b"\x00\x00\x00\x00")
    assert ws.recv_message() == (OP_TEXT, b"zero mask")


def test_library_client_echo(echo_herald):
    async def go():
        async with H.lib_connect(echo_herald.port, "/echo") as c:
            for msg in ["hi", "y" * 1000, b"\x00\xff" * 100, ""]:
                await c.send(msg)
                assert await H.within(c.recv()) == msg
    H.run_async(go(), 15)


# ---------------------------------------------------------------- fragmentation

@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY], ids=["text", "binary"])
def test_fragmented_message_echoed_whole(ws, opcode):
    parts = [b"Hello, ", b"fragmented ", b"", b"world"]
    ws.send_frame(opcode, parts[0], fin=False)
    for p in parts[1:-1]:
        ws.send_frame(OP_CONT, p, fin=False)
    ws.send_frame(OP_CONT, parts[-1], fin=True)
    assert ws.recv_message() == (opcode, b"".join(parts))


def test_fragmented_many_small_frames(ws):
    data = os.urandom(2000)
    ws.send_frame(OP_BINARY, data[:1], fin=False)
    for i in range(1, 1999):
        ws.send_frame(OP_CONT, data[i:i + 1], fin=False)
    ws.send_frame(OP_CONT, data[1999:], fin=True)
    assert ws.recv_message(10) == (OP_BINARY, data)


def test_fragmented_with_empty_first_and_last(ws):
    ws.send_frame(OP_TEXT, b"", fin=False)
    ws.send_frame(OP_CONT, b"middle", fin=False)
    ws.send_frame(OP_CONT, b"", fin=True)
    assert ws.recv_message() == (OP_TEXT, b"middle")


def test_ping_between_fragments_answered_first(ws):
    ws.send_frame(OP_TEXT, b"frag-one ", fin=False)
    ws.send_frame(OP_PING, b"in-between")
    f = ws.recv_frame()
    assert f.opcode == OP_PONG and f.payload == b"in-between", f
    ws.send_frame(OP_CONT, b"frag-two", fin=True)
    assert ws.recv_message() == (OP_TEXT, b"frag-one frag-two")


def test_pong_between_fragments_ignored(ws):
    ws.send_frame(OP_BINARY, b"\x01", fin=False)
    ws.send_frame(OP_PONG, b"unsolicited")
    ws.send_frame(OP_CONT, b"\x02", fin=True)
    assert ws.recv_message() == (OP_BINARY, b"\x01\x02")


# ---------------------------------------------------------------- control frames

@pytest.mark.parametrize("payload", [b"", b"abc", bytes(range(125))], ids=["empty", "short", "125"])
def test_ping_gets_pong_with_same_payload(ws, payload):
    ws.send_frame(OP_PING, payload)
    f = ws.recv_frame()
    assert f.opcode == OP_PONG and f.payload == payload, f


def test_burst_of_pings_is_answered_for_the_latest(ws):
    # RFC 6455 §5.5.3: pings not yet answered may be answered by one pong
    # for the most recent; Herald keeps at most one pong pending, so a
    # burst costs at most a few pongs, in order, the last for the last ping.
    ws.send_raw(b"".join(H.build_frame(OP_PING, str(i).encode()) for i in range(50)))
    payloads = []
    while not payloads or payloads[-1] != b"49":
        f = ws.recv_frame()
        assert f.opcode == OP_PONG, f
        payloads.append(f.payload)
    numbers = [int(p) for p in payloads]
    assert numbers == sorted(set(numbers)), f"pongs out of order or repeated: {numbers}"
    assert len(numbers) <= 50
    ws.roundtrip(OP_TEXT, b"after the burst")


def test_unsolicited_pong_ignored(ws):
    ws.send_frame(OP_PONG, b"nobody asked")
    ws.roundtrip(OP_TEXT, b"still here")


# ---------------------------------------------------------------- close handshake

@pytest.mark.parametrize("code", [1000, 1001, 1003, 1007, 1011, 3000, 4000, 4999])
def test_client_close_echoed(ws, code):
    ws.send_close(code, b"bye")
    f = ws.expect_close(reply=False)
    assert f.close_code == code, f
    ws.expect_eof()


def test_client_close_empty_payload(ws):
    ws.send_close(None)
    f = ws.expect_close(reply=False)
    assert f.payload == b"" or f.close_code == 1000, f
    ws.expect_eof()


def test_client_close_with_123_byte_reason(ws):
    ws.send_close(1000, b"r" * 123)  # 125-byte payload: the maximum
    f = ws.expect_close(reply=False)
    assert f.close_code == 1000
    ws.expect_eof()


def test_no_data_after_close(ws):
    # Data after our close must not be echoed: the close reply is the next frame.
    ws.send_raw(H.build_frame(OP_CLOSE, H.close_payload(1000)) + H.build_frame(OP_TEXT, b"late"))
    f = ws.recv_frame()
    assert f.opcode == OP_CLOSE and f.close_code == 1000, f
    ws.expect_eof()


def test_close_after_fragment_start(ws):
    ws.send_frame(OP_TEXT, b"partial", fin=False)
    ws.send_close(1000)
    f = ws.expect_close(reply=False)
    assert f.close_code == 1000
    ws.expect_eof()


def test_library_client_clean_close(echo_herald):
    async def go():
        async with H.lib_connect(echo_herald.port, "/echo") as c:
            await c.send("x")
            await H.within(c.recv())
            await H.within(c.close(1000, "done"))
            assert c.close_code == 1000  # the server's close frame echoed our code
    H.run_async(go(), 15)


# ---------------------------------------------------------------- violations -> 1002

def _violation(name: str) -> list[bytes]:
    b = H.build_frame
    return {
        "unmasked-text": [b(OP_TEXT, b"hi", mask=False)],
        "unmasked-binary": [b(OP_BINARY, b"hi", mask=False)],
        "unmasked-ping": [b(OP_PING, b"hi", mask=False)],
        "unmasked-close": [b(OP_CLOSE, H.close_payload(1000), mask=False)],
        "opcode-3": [b(0x3, b"x")],
        "opcode-7": [b(0x7, b"x")],
        "opcode-B": [b(0xB, b"x")],
        "opcode-F": [b(0xF, b"x")],
        "rsv1": [b(OP_TEXT, b"x", rsv=4)],
        "rsv2": [b(OP_TEXT, b"x", rsv=2)],
        "rsv3": [b(OP_BINARY, b"x", rsv=1)],
        "rsv-on-ping": [b(OP_PING, b"x", rsv=4)],
        "fragmented-ping": [b(OP_PING, b"x", fin=False)],
        "fragmented-close": [b(OP_CLOSE, H.close_payload(1000), fin=False)],
        "ping-126": [b(OP_PING, b"p" * 126)],
        "pong-126": [b(OP_PONG, b"p" * 126)],
        "close-126": [b(OP_CLOSE, H.close_payload(1000, b"r" * 124))],
        "continuation-without-start": [b(OP_CONT, b"x", fin=True)],
        "continuation-without-start-nonfinal": [b(OP_CONT, b"x", fin=False)],
        "text-inside-fragmented": [b(OP_TEXT, b"a", fin=False), b(OP_TEXT, b"b", fin=True)],
        "binary-inside-fragmented": [b(OP_BINARY, b"a", fin=False), b(OP_BINARY, b"b", fin=True)],
        "close-1-byte": [b(OP_CLOSE, b"\x03")],
    }[name]


VIOLATIONS = [
    "unmasked-text", "unmasked-binary", "unmasked-ping", "unmasked-close",
    "opcode-3", "opcode-7", "opcode-B", "opcode-F",
    "rsv1", "rsv2", "rsv3", "rsv-on-ping",
    "fragmented-ping", "fragmented-close", "ping-126", "pong-126", "close-126",
    "continuation-without-start", "continuation-without-start-nonfinal",
    "text-inside-fragmented", "binary-inside-fragmented", "close-1-byte",
]


@pytest.mark.parametrize("name", VIOLATIONS)
def test_violation_closes_1002(ws, name):
    ws.roundtrip(OP_TEXT, b"warm-up")  # the connection works before the violation
    for raw in _violation(name):
        ws.send_raw(raw)
    ws.expect_close_code(1002)


INVALID_CLOSE_CODES = [0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000, 65535]


@pytest.mark.parametrize("code", INVALID_CLOSE_CODES)
def test_invalid_close_code_1002(ws, code):
    ws.send_close(code)
    ws.expect_close_code(1002)


def test_violation_does_not_echo_pending_data(ws):
    # A complete message then a violation in the same write: the message may be
    # echoed, but nothing after the violation; the close must be 1002.
    ws.send_raw(H.build_frame(OP_TEXT, b"ok") + H.build_frame(0x3, b"bad") + H.build_frame(OP_TEXT, b"after"))
    seen = []
    while True:
        f = ws.recv_frame()
        if f.opcode == OP_CLOSE:
            break
        seen.append(f.payload)
    assert f.close_code == 1002
    assert b"after" not in seen
    ws.expect_eof()


# ---------------------------------------------------------------- message size -> 1009

@pytest.fixture
def small(start_herald):
    h = start_herald("--enable-echo", "--message-bytes-max", "1024")
    with H.RawWS.open(h.port, "/echo") as c:
        yield c


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY], ids=["text", "binary"])
def test_message_at_limit_ok(small, opcode):
    small.roundtrip(opcode, b"a" * 1024)


@pytest.mark.parametrize("opcode", [OP_TEXT, OP_BINARY], ids=["text", "binary"])
def test_message_over_limit_1009(small, opcode):
    small.send_frame(opcode, b"a" * 1025)
    small.expect_close_code(1009)


def test_fragmented_message_over_limit_1009(small):
    small.send_frame(OP_BINARY, b"a" * 400, fin=False)
    small.send_frame(OP_CONT, b"b" * 400, fin=False)
    small.send_frame(OP_CONT, b"c" * 400, fin=True)
    small.expect_close_code(1009)


def test_fragmented_message_at_limit_ok(small):
    small.send_frame(OP_BINARY, b"a" * 512, fin=False)
    small.send_frame(OP_CONT, b"b" * 512, fin=True)
    assert small.recv_message() == (OP_BINARY, b"a" * 512 + b"b" * 512)


def test_huge_declared_length_closes_1009_without_payload(small):
    # Only the header is sent: the server must not wait for 1 TiB to arrive.
    small.send_raw(H.build_frame(OP_BINARY, b"", length=1 << 40, mask_key=b"abcd"))
    small.expect_close_code(1009)


def test_64bit_length_with_msb_set(small):
    # RFC 6455 5.2: the most significant bit MUST be 0 -> protocol error (1002);
    # a server that checks size first answers 1009. Either refuses it.
    small.send_raw(H.build_frame(OP_BINARY, b"", length=(1 << 63) + 5, mask_key=b"abcd"))
    small.expect_close_code({1002, 1009})


def test_message_limit_default_64k(echo_herald):
    with H.RawWS.open(echo_herald.port, "/echo") as c:
        c.roundtrip(OP_BINARY, os.urandom(65536))
        c.send_binary(os.urandom(65537))
        c.expect_close_code(1009)


def test_message_limit_applies_on_ws_route(start_herald):
    h = start_herald("--message-bytes-max", "1024")
    with H.RawWS.open(h.port, "/ws") as c:
        c.send_text(b'{"type":"ping","pad":"' + b"x" * 1100 + b'"}')
        c.expect_close_code(1009)


def test_server_waits_for_client_close_reply_then_closes(ws):
    # After a violation, even if the client never answers the close frame,
    # the server closes TCP by itself within a few seconds.
    ws.send_frame(0x3, b"x")
    f = ws.expect_close(reply=False)
    assert f.close_code == 1002
    t0 = time.monotonic()
    ws.expect_eof(10)
    assert time.monotonic() - t0 < 10
