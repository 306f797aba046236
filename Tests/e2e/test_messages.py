"""JSON commands on /ws (CONTRACT: Messages on the socket), pub/sub excluded."""

from __future__ import annotations

import json

import pytest

import herald_e2e as H


@pytest.fixture
def ws(herald):
    with H.RawWS.open(herald.port, "/ws") as c:
        yield c


def assert_still_open(ws: H.RawWS) -> None:
    ws.send_json({"type": "ping"})
    assert ws.recv_json() == {"type": "pong"}


def assert_error(msg: dict, codes: str | set[str]) -> None:
    codes = {codes} if isinstance(codes, str) else codes
    assert msg.get("type") == "error", msg
    assert msg.get("code") in codes, msg
    assert isinstance(msg.get("message"), str), f"error without a message string: {msg}"


def test_ping_pong(ws):
    ws.send_json({"type": "ping"})
    assert ws.recv_json() == {"type": "pong"}


def test_ping_with_whitespace(ws):
    ws.send_text(' {  "type" : "ping" } ')
    assert ws.recv_json() == {"type": "pong"}


def test_many_pings_pipelined_in_order(ws):
    ws.send_raw(b"".join(H.build_frame(H.OP_TEXT, b'{"type":"ping"}') for _ in range(100)))
    for _ in range(100):
        assert ws.recv_json() == {"type": "pong"}


def test_fragmented_json_command(ws):
    ws.send_frame(H.OP_TEXT, b'{"ty', fin=False)
    ws.send_frame(H.OP_CONT, b'pe":"pi', fin=False)
    ws.send_frame(H.OP_CONT, b'ng"}', fin=True)
    assert ws.recv_json() == {"type": "pong"}


@pytest.mark.parametrize("text", [
    "not json", "{", '{"type":"ping"', '{"type":}', "", "{'type':'ping'}", '{"type":"ping"}}',
], ids=["word", "brace", "unterminated", "missing-value", "empty", "single-quotes", "trailing"])
def test_bad_json(ws, text):
    ws.send_text(text)
    assert_error(ws.recv_json(), "bad_json")
    assert_still_open(ws)


@pytest.mark.parametrize("obj", [{"type": "nope"}, {"type": "PING"}, {"type": ""}])
def test_unknown_type(ws, obj):
    ws.send_json(obj)
    assert_error(ws.recv_json(), "unknown_type")
    assert_still_open(ws)


@pytest.mark.parametrize("text", ['[1,2]', '"ping"', "42", "null", '{"kind":"ping"}', '{"type":1}'],
                         ids=["array", "string", "number", "null", "no-type", "type-not-string"])
def test_not_a_command_object(ws, text):
    # Not spelled out by the contract: a valid JSON value that is not a command
    # object is either bad_json or unknown_type; the socket stays open either way.
    ws.send_text(text)
    assert_error(ws.recv_json(), {"bad_json", "unknown_type"})
    assert_still_open(ws)


def test_errors_do_not_accumulate_into_close(ws):
    for _ in range(20):
        ws.send_text("garbage")
        assert_error(ws.recv_json(), "bad_json")
    assert_still_open(ws)


def test_ws_route_does_not_echo(ws):
    ws.send_json({"type": "nope", "payload": "x"})
    msg = ws.recv_json()
    assert msg.get("type") == "error", f"/ws must answer commands, not echo: {msg}"


def test_library_client_commands(herald):
    async def go():
        async with H.lib_connect(herald.port, "/ws") as c:
            await c.send('{"type":"ping"}')
            assert json.loads(await H.within(c.recv())) == {"type": "pong"}
            await c.send("{oops")
            err = json.loads(await H.within(c.recv()))
            assert err["type"] == "error" and err["code"] == "bad_json"
            await c.send('{"type":"ping"}')
            assert json.loads(await H.within(c.recv())) == {"type": "pong"}
    H.run_async(go(), 15)
