"""UTF-8 validation (RFC 6455 8.1): text messages and close reasons."""

from __future__ import annotations

import pytest

import herald_e2e as H
from herald_e2e import OP_BINARY, OP_CONT, OP_TEXT


@pytest.fixture
def ws(echo_herald):
    with H.RawWS.open(echo_herald.port, "/echo") as c:
        yield c


VALID = {
    "ascii": "plain ascii",
    "2-byte": "κόσμε",
    "3-byte": "中文字符 €",
    "4-byte": "😀🎉𝄞",
    "max-codepoint": "\U0010FFFF",
    "bom-and-nul": "\ufeffa\x00b",
    "edge-u+d7ff-u+e000": "\ud7ff\ue000",
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_utf8_echoed(ws, name):
    ws.roundtrip(OP_TEXT, VALID[name].encode("utf-8"))


INVALID = {
    "lone-ff": b"\xff",
    "lone-continuation": b"abc\x80def",
    "overlong-slash": b"\xc0\xaf",
    "overlong-3-byte": b"\xe0\x80\xaf",
    "overlong-nul-4-byte": b"\xf0\x80\x80\x80",
    "surrogate-high": b"\xed\xa0\x80",
    "surrogate-low": b"\xed\xbf\xbf",
    "above-u+10ffff": b"\xf4\x90\x80\x80",
    "f5-lead": b"\xf5\x80\x80\x80",
    "truncated-at-end": b"euro \xe2\x82",
    "truncated-mid": b"\xe2\x82(",
    "autobahn-6.3.1": b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64",
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_invalid_utf8_text_closes_1007(ws, name):
    ws.send_text(INVALID[name])
    ws.expect_close_code(1007)


def test_valid_multibyte_split_across_fragments(ws):
    data = "a€b😀c".encode()       # 61 e2 82 ac 62 f0 9f 98 80 63
    cuts = [0, 2, 3, 7, 8, len(data)]  # splits inside both multi-byte characters
    parts = [data[a:b] for a, b in zip(cuts, cuts[1:])]
    ws.send_frame(OP_TEXT, parts[0], fin=False)
    for p in parts[1:-1]:
        ws.send_frame(OP_CONT, p, fin=False)
    ws.send_frame(OP_CONT, parts[-1], fin=True)
    assert ws.recv_message() == (OP_TEXT, data)


def test_valid_one_byte_per_fragment(ws):
    data = "ü😀€".encode()
    ws.send_frame(OP_TEXT, data[:1], fin=False)
    for i in range(1, len(data) - 1):
        ws.send_frame(OP_CONT, data[i:i + 1], fin=False)
    ws.send_frame(OP_CONT, data[-1:], fin=True)
    assert ws.recv_message() == (OP_TEXT, data)


@pytest.mark.parametrize("parts", [
    [b"ab\xe2\x82", b"(cd"],              # sequence broken across the boundary
    [b"valid prefix ", b"\xff", b"tail"],  # invalid byte in a middle fragment
    [b"ok", b"\xed", b"\xa0\x80"],         # surrogate split over three fragments
    [b"euro \xe2", b"\x82"],               # message ends inside a character
], ids=["broken-seq", "middle-ff", "split-surrogate", "truncated-final"])
def test_invalid_utf8_across_fragments_1007(ws, parts):
    ws.send_frame(OP_TEXT, parts[0], fin=False)
    try:
        for p in parts[1:-1]:
            ws.send_frame(OP_CONT, p, fin=False)
        ws.send_frame(OP_CONT, parts[-1], fin=True)
    except OSError:
        pass  # a fail-fast server may already have closed
    ws.expect_close_code(1007)


def test_binary_is_not_utf8_validated(ws):
    ws.roundtrip(OP_BINARY, b"\xff\xfe\xed\xa0\x80\xc0\xaf")


def test_invalid_close_reason_1007(ws):
    ws.send_close(1000, b"bad \xff reason")
    ws.expect_close_code(1007)


def test_valid_close_reason_echoed(ws):
    ws.send_close(1000, "tschüß 😀".encode())
    f = ws.expect_close(reply=False)
    assert f.close_code == 1000
    ws.expect_eof()


def test_invalid_utf8_on_ws_route_1007(herald):
    with H.RawWS.open(herald.port, "/ws") as c:
        c.send_text(b'{"type":"ping","x":"\xc0\xaf"}')
        c.expect_close_code(1007)


def test_library_client_unicode_roundtrip(echo_herald):
    text = "ünïcödé ✓ 😀 " * 50

    async def go():
        async with H.lib_connect(echo_herald.port, "/echo") as c:
            await c.send(text)
            assert await H.within(c.recv()) == text
    H.run_async(go(), 15)
