"""Public listener: the HTTP side (CONTRACT: Public listener)."""

from __future__ import annotations

import json
import os
import selectors
import socket
import subprocess
import ssl
import time
from pathlib import Path

import pytest

import herald_e2e as H


def upgrade(h, path="/ws", **kw) -> tuple[H.HttpResponse, str]:
    key = kw.pop("key", None) or H.make_key()
    raw = H.upgrade_request(path, f"127.0.0.1:{h.port}", key, **kw)
    return H.http_exchange(h.port, raw, check_close=True), key


# ---------------------------------------------------------------- success

def test_ready_line_reports_real_ports(herald):
    assert herald.port and herald.port > 0 and herald.admin_port and herald.admin_port > 0
    assert herald.port != herald.admin_port
    assert "ready" in herald.ready_line


def test_upgrade_ws_101_with_accept(herald):
    with H.connect(herald.port) as sock:
        key = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 section 1.3 example
        sock.sendall(H.upgrade_request("/ws", f"127.0.0.1:{herald.port}", key))
        resp = H.read_http_response(H.SockReader(sock), head_only=True)
        H.check_upgrade_response(resp, key)
        assert resp.header("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_upgrade_header_values_case_insensitive(herald):
    key = H.make_key()
    raw = H.build_request("GET", "/ws", [
        ("host", f"127.0.0.1:{herald.port}"), ("upgrade", "WebSocket"),
        ("connection", "keep-alive, Upgrade"), ("sec-websocket-key", key),
        ("sec-websocket-version", "13")])
    with H.connect(herald.port) as sock:
        sock.sendall(raw)
        H.check_upgrade_response(H.read_http_response(H.SockReader(sock), head_only=True), key)


def test_upgrade_head_sent_byte_by_byte(herald):
    key = H.make_key()
    raw = H.upgrade_request("/ws", f"127.0.0.1:{herald.port}", key)
    with H.connect(herald.port) as sock:
        for i in range(len(raw)):
            sock.send(raw[i:i + 1])
        H.check_upgrade_response(H.read_http_response(H.SockReader(sock), head_only=True), key)


def test_library_client_connects_and_pings(herald):
    async def go():
        async with H.lib_connect(herald.port, "/ws") as ws:
            await ws.send('{"type":"ping"}')
            assert json.loads(await H.within(ws.recv())) == {"type": "pong"}
    H.run_async(go(), 15)


def test_ws_path_with_query_string_upgrades(herald):
    with H.RawWS.open(herald.port, "/ws?foo=bar") as ws:
        ws.send_json({"type": "ping"})
        assert ws.recv_json() == {"type": "pong"}


def test_large_but_allowed_head_upgrades(herald):
    # ~7 KiB head: well under the 8 KiB limit
    with H.RawWS.open(herald.port, "/ws", extra=[("X-Pad", "a" * 7000)]) as ws:
        ws.send_json({"type": "ping"})
        assert ws.recv_json() == {"type": "pong"}


def test_echo_route_upgrades_when_enabled(echo_herald):
    with H.RawWS.open(echo_herald.port, "/echo") as ws:
        ws.roundtrip(H.OP_TEXT, b"hello")


# ---------------------------------------------------------------- plain HTTP

def test_public_healthz(herald):
    r = H.http_get(herald.port, "/healthz")
    assert r.status == 200
    assert r.body.strip() == b"ok"


# ---------------------------------------------------------------- failures

def test_echo_is_404_without_flag(herald):
    resp, _ = upgrade(herald, "/echo")
    H.assert_http_error(resp, 404)


@pytest.mark.parametrize("path", ["/", "/nope", "/ws/extra", "/WS", "/healthz/x"])
def test_unknown_path_404(herald, path):
    resp, _ = upgrade(herald, path)
    H.assert_http_error(resp, 404)


def test_unknown_path_plain_get_404(herald):
    resp = H.http_get(herald.port, "/does-not-exist", check_close=True)
    H.assert_http_error(resp, 404)


BAD_400 = {
    "no-key": dict(drop=["Sec-WebSocket-Key"]),
    "key-not-base64": dict(key="not base64 at all!!"),
    "key-decodes-to-15-bytes": dict(key="AAAAAAAAAAAAAAAAAAAA"),
    "key-decodes-to-17-bytes": dict(key="AAAAAAAAAAAAAAAAAAAAAAA="),
    "empty-key": dict(key=" "),
    "method-post": dict(method="POST"),
    "method-put": dict(method="PUT"),
    "no-upgrade-header": dict(drop=["Upgrade"]),
    "upgrade-not-websocket": dict(drop=["Upgrade"], extra=[("Upgrade", "h2c")]),
    "plain-get-no-upgrade": dict(drop=["Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version"]),
}


@pytest.mark.parametrize("case", sorted(BAD_400))
def test_bad_upgrade_400(herald, case):
    resp, _ = upgrade(herald, "/ws", **BAD_400[case])
    H.assert_http_error(resp, 400)


@pytest.mark.parametrize("version", ["8", "12", "14", "0", "abc"])
def test_wrong_version_426(herald, version):
    resp, _ = upgrade(herald, "/ws", version=version)
    H.assert_http_error(resp, 426)
    assert resp.header("sec-websocket-version") == "13", resp.raw_head


def test_missing_version_rejected(herald):
    # "other than 13": a missing version is not 13. 426 (preferred) or 400 both refuse it.
    resp, _ = upgrade(herald, "/ws", drop=["Sec-WebSocket-Version"])
    assert resp.status in (400, 426), resp.raw_head
    H.assert_http_error(resp, resp.status)


def test_head_over_8k_431(herald):
    resp, _ = upgrade(herald, "/ws", extra=[("X-Pad", "a" * 9000)])
    H.assert_http_error(resp, 431)


def test_many_headers_over_8k_431(herald):
    resp, _ = upgrade(herald, "/ws", extra=[(f"X-H{i}", "v" * 90) for i in range(120)])
    H.assert_http_error(resp, 431)


def test_unterminated_head_over_8k_431_without_waiting_for_timeout(start_herald):
    # The head never ends; the server must answer 431 once it passes 8 KiB,
    # not wait for the (long) handshake timeout.
    h = start_herald("--handshake-timeout", "30")
    with H.connect(h.port) as sock:
        sock.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 16384)
        t0 = time.monotonic()
        reader = H.SockReader(sock)
        resp = H.read_http_response(reader, timeout=5)
        resp.closed = reader.wait_eof(3)
    H.assert_http_error(resp, 431)
    assert time.monotonic() - t0 < 5


def test_http_error_has_no_upgrade(herald):
    resp, _ = upgrade(herald, "/nope")
    assert resp.header("sec-websocket-accept") is None
    assert resp.header("upgrade") is None or resp.status != 101


# ---------------------------------------------------------------- handshake timeout

def test_handshake_timeout_partial_head_closed_without_response(start_herald):
    h = start_herald("--handshake-timeout", "1")
    with H.connect(h.port) as sock:
        t0 = time.monotonic()
        sock.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        reader = H.SockReader(sock)
        assert reader.wait_eof(4.0), "server kept a half-sent handshake open past the handshake timeout"
        elapsed = time.monotonic() - t0
        assert reader.buf == b"", f"expected a bare TCP close, got {reader.buf[:200]!r}"
    assert elapsed >= 0.5, f"closed after {elapsed:.2f}s, before the 1 s handshake timeout"


def test_handshake_timeout_silent_connection(start_herald):
    h = start_herald("--handshake-timeout", "1")
    with H.connect(h.port) as sock:
        t0 = time.monotonic()
        reader = H.SockReader(sock)
        assert reader.wait_eof(4.0), "server kept a silent connection open past the handshake timeout"
        assert reader.buf == b""
        assert time.monotonic() - t0 >= 0.5


def test_handshake_timeout_never_early(start_herald):
    """The deadline counts from the accept, whenever in the shard's sleep it
    lands. It once counted from the shard's clock before it slept (up to a
    second stale), so a connection accepted late in an idle second was closed
    79 ms later with --handshake-timeout 1. Connections opened at spread
    moments; each close is seen at or after it happened, so a busy machine
    can only make the figures larger."""
    h = start_herald("--handshake-timeout", "1")
    selector = selectors.DefaultSelector()
    opened: dict[socket.socket, float] = {}
    lifetimes: list[float] = []
    t0 = time.monotonic()
    # Moments to open at, spread over an idle shard's up-to-a-second sleeps.
    pending = [t0 + at for at in (0.0, 0.35, 0.8, 1.1, 1.65, 1.85, 2.5)]
    try:
        while (pending or len(lifetimes) < len(opened)) and time.monotonic() < t0 + 15:
            if pending and time.monotonic() >= pending[0]:
                pending.pop(0)
                sock = H.connect(h.port)
                opened[sock] = time.monotonic()
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ)
            wait = max(0.0, pending[0] - time.monotonic()) if pending else 0.5
            for key, _ in selector.select(timeout=wait):
                sock = key.fileobj
                try:
                    data = sock.recv(1)
                except (ssl.SSLWantReadError, BlockingIOError):
                    continue  # over TLS: a record with no data in it (a session ticket)
                except (ConnectionResetError, ssl.SSLEOFError):
                    data = b""
                assert data == b"", f"server sent {data!r} on a silent connection"
                lifetimes.append(time.monotonic() - opened[sock])
                selector.unregister(sock)
    finally:
        for sock in opened:
            sock.close()
    assert len(lifetimes) == len(opened) == 7, "a silent connection outlived the handshake timeout by 10 s"
    assert min(lifetimes) >= 0.95, f"closed before the 1 s handshake timeout: {sorted(lifetimes)}"


@pytest.mark.parametrize("defer", ["1", "0"])
def test_defer_accept_holds_silent_connections_in_the_kernel(start_herald, defer):
    """--defer-accept (TCP_DEFER_ACCEPT, default 1 s): a connection is handed
    to herald when its first bytes arrive, so a silent one holds no slot
    until then; --defer-accept 0 accepts at once. Either way an upgrade
    sent right after connect is answered at once."""
    h = start_herald("--defer-accept", defer, "--handshake-timeout", "30")
    # A bare TCP connection (over TLS too: no ClientHello is sent).
    with socket.create_connection(("127.0.0.1", h.port), timeout=5):
        if defer == "1":
            time.sleep(0.5)  # the kernel holds it: herald has not accepted it
            assert H.get_stats(h.admin_port)["tcp_accepted_total"] == 0
        else:
            H.wait_stat(h.admin_port, lambda s: s["tcp_accepted_total"] == 1, desc="accepted at once")
        assert H.http_get(h.port, "/healthz").status == 200, "a client that speaks is served meanwhile"
    with H.RawWS.open(h.port, "/ws") as ws:
        ws.send_json({"type": "ping"})
        assert ws.recv_json() == {"type": "pong"}


def test_handshake_timeout_counts_from_connect_not_last_byte(start_herald):
    # slowloris: one byte every 0.25 s must not extend the deadline.
    h = start_herald("--handshake-timeout", "1")
    raw = H.upgrade_request("/ws", "127.0.0.1", H.make_key())
    with H.connect(h.port) as sock:
        t0 = time.monotonic()
        closed = False
        for i in range(len(raw)):
            try:
                sock.send(raw[i:i + 1])
            except OSError:
                closed = True
                break
            sock.settimeout(0.25)
            try:
                data = sock.recv(4096)
                if not data:
                    closed = True
                    break
                pytest.fail(f"server answered a trickled head after its timeout: {data[:200]!r}")
            except socket.timeout:
                pass
            except (ConnectionResetError, BrokenPipeError):
                closed = True
                break
            if time.monotonic() - t0 > 4.0:
                break
        assert closed, "trickling one byte at a time kept the handshake alive past the timeout"
        assert time.monotonic() - t0 < 4.0


def test_completed_handshake_not_affected_by_handshake_timeout(start_herald):
    h = start_herald("--handshake-timeout", "1")
    with H.RawWS.open(h.port, "/ws") as ws:
        time.sleep(1.6)
        ws.send_json({"type": "ping"})
        assert ws.recv_json() == {"type": "pong"}


# ---------------------------------------------------------------- permessage-deflate

@pytest.mark.deflate
def test_permessage_deflate_answered_with_server_no_context_takeover(herald):
    key = H.make_key()
    raw = H.upgrade_request("/ws", f"127.0.0.1:{herald.port}", key, extra=[
        ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits")])
    with H.connect(herald.port) as sock:
        sock.sendall(raw)
        resp = H.read_http_response(H.SockReader(sock), head_only=True)
    H.check_upgrade_response(resp, key)
    ext = (resp.header("sec-websocket-extensions") or "").lower()
    assert "permessage-deflate" in ext, resp.raw_head
    assert "server_no_context_takeover" in ext, resp.raw_head


@pytest.mark.deflate
def test_library_client_with_deflate_echo(start_herald):
    h = start_herald("--enable-echo")

    async def go():
        async with H.lib_connect(h.port, "/echo", compression="deflate") as ws:
            assert ws.response.headers.get("Sec-WebSocket-Extensions", "").lower().find("permessage-deflate") >= 0
            text = "compress me " * 200
            await ws.send(text)
            assert await H.within(ws.recv()) == text
            await ws.send(b"\x00\x01" * 500)
            assert await H.within(ws.recv()) == b"\x00\x01" * 500
    H.run_async(go(), 15)



def test_the_demo_page_and_the_client_are_served_as_plain_http(herald):
    root = Path(__file__).resolve().parents[2]
    page = H.http_get(herald.port, "/?topic=x", check_close=True)
    assert page.status == 200 and page.header("Content-Type") == "text/html; charset=utf-8"
    assert page.body.startswith(b"<!doctype html>") and b'src="/herald.global.js"' in page.body
    module = H.http_get(herald.port, "/herald.js", check_close=True)
    assert module.status == 200 and module.header("Content-Type") == "text/javascript; charset=utf-8"
    assert module.body == (root / "Clients/js/herald.js").read_bytes().rstrip(b"\n")
    script = H.http_get(herald.port, "/herald.global.js", check_close=True)
    assert script.body == (root / "Clients/js/herald.global.js").read_bytes().rstrip(b"\n")


def test_the_zstd_decoder_is_served_from_next_to_the_binary_or_as_configured(start_herald, tmp_path):
    # make builds herald-zstd.wasm next to the herald binary (libzstd's
    # decoder for browsers); --zstd-decoder names another file.
    beside = Path(os.environ.get("HERALD_BIN", ".build/release/herald")).resolve().parent / "herald-zstd.wasm"
    herald = start_herald()
    decoder = H.http_get(herald.port, "/herald-zstd.wasm", check_close=True)
    assert decoder.status == 200 and decoder.header("Content-Type") == "application/wasm"
    assert decoder.header("Access-Control-Allow-Origin") == "*"
    assert decoder.body == beside.read_bytes() and decoder.body.startswith(b"\0asm\1\0\0\0")
    module = tmp_path / "other.wasm"
    module.write_bytes(b"\0asm\1\0\0\0")  # the smallest valid module
    other = start_herald("--zstd-decoder", str(module))
    assert H.http_get(other.port, "/herald-zstd.wasm", check_close=True).body == module.read_bytes()
    with H.connect(other.port) as sock:
        sock.sendall(b"HEAD /herald-zstd.wasm HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _, body = H.SockReader(sock).read_to_eof(time.monotonic() + 5).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"Content-Length: 8" in head and body == b"", head + body


@pytest.mark.parametrize("content,message", [
    (None, "cannot read --zstd-decoder"),
    (b"<html>not wasm</html>", "is not a WebAssembly module"),
    (b"\0asm\1\0\0\0" + b"\0" * (4 << 20), "cannot read --zstd-decoder"),
], ids=["missing", "not-wasm", "over-4-MiB"])
def test_a_bad_zstd_decoder_file_stops_the_start(content, message, tmp_path):
    path = tmp_path / "decoder.wasm"
    if content is not None:
        path.write_bytes(content)
    result = subprocess.run([os.environ.get("HERALD_BIN", ".build/release/herald"), "--listen", "127.0.0.1:0",
                             "--admin-listen", "127.0.0.1:0", "--zstd-decoder", str(path)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and message in result.stderr, result.stderr


def test_without_the_demo_the_pages_are_not_found(start_herald):
    herald = start_herald("--disable-demo")
    for path in ("/", "/herald.js", "/herald.global.js", "/herald-zstd.wasm"):
        H.assert_http_error(H.http_get(herald.port, path, check_close=True), 404)
