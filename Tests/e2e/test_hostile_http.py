"""Hostile HTTP on both listeners (issue 7): request smuggling, Host rules,
absolute-form targets, HEAD lengths, Expect: 100-continue, chunk extensions,
incremental chunked bodies, admin lock-out by idle or trickling sockets,
duplicate URL topics, and bytes a client sends behind its upgrade request.

Each test here failed on the main branch before the fix it covers."""

from __future__ import annotations

import socket
import time

import pytest

import herald_e2e as H


def admin_raw(port: int, raw: bytes, *, responses: int = 1, timeout: float = 5.0):
    """Sends raw bytes to the admin listener; reads `responses` responses and
    whether the server then closes."""
    with H.connect(port, timeout=timeout) as sock:
        sock.sendall(raw)
        reader = H.SockReader(sock)
        out = [H.read_http_response(reader, timeout) for _ in range(responses)]
        closed = reader.wait_eof(2.0)
        return out, closed, reader.buf


# ---------------------------------------------------------------- admin listener

def test_content_length_with_chunked_is_answered_then_closed(herald):
    # RFC 9112 §6.3: chunked wins and the connection closes after the
    # response, so the bytes behind the chunked body never run as a request.
    smuggled = b"POST /v1/publish?topic=s HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi"
    raw = (b"POST /v1/publish?topic=t HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n" + smuggled)
    (resp,), closed, rest = admin_raw(herald.admin_port, raw)
    assert resp.status == 200, resp.raw_head
    assert "close" in resp.header_tokens("connection")
    assert closed, "the connection must close after a CL+TE request"
    assert b"HTTP/1.1" not in rest, f"a second response came: {rest[:200]!r}"
    assert H.admin_get(herald.admin_port, "/v1/topics/s").json()["seq"] == 0, "the smuggled publish ran"
    assert H.admin_get(herald.admin_port, "/v1/topics/t").json()["seq"] == 1


@pytest.mark.parametrize("hosts", [[], ["a", "b"], ["a", "a"]])
def test_admin_host_missing_or_repeated_is_400(herald, hosts):
    raw = b"GET /v1/stats HTTP/1.1\r\n" + b"".join(f"Host: {h}\r\n".encode() for h in hosts) + b"\r\n"
    (resp,), closed, _ = admin_raw(herald.admin_port, raw)
    assert resp.status == 400
    assert closed


@pytest.mark.parametrize("hosts", [[], ["a", "b"]])
def test_public_host_missing_or_repeated_is_400(herald, hosts):
    raw = b"GET /healthz HTTP/1.1\r\n" + b"".join(f"Host: {h}\r\n".encode() for h in hosts) + b"\r\n"
    resp = H.http_exchange(herald.port, raw, check_close=True)
    H.assert_http_error(resp, 400)
    extra = [("Host", "again")] if hosts else []
    up = H.upgrade_request("/ws", drop=["host"] if not hosts else [], extra=extra)
    H.assert_http_error(H.http_exchange(herald.port, up, check_close=True), 400)


def test_absolute_form_targets_are_routed(herald):
    # RFC 9112 §3.2.2: a server MUST accept the absolute-form.
    resp = H.http_exchange(herald.admin_port,
                           b"GET http://127.0.0.1/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert resp.status == 200 and resp.body == b"ok"
    resp = H.http_exchange(herald.port, b"GET http://127.0.0.1/healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert resp.status == 200 and resp.body == b"ok"
    key = H.make_key()
    resp = H.http_exchange(herald.port, H.upgrade_request("http://127.0.0.1/ws?topics=x", key=key))
    H.check_upgrade_response(resp, key)


@pytest.mark.parametrize("listener", ["public", "admin"])
def test_head_healthz_states_the_get_length(herald, listener):
    # RFC 9110 §9.3.2/§8.6: HEAD gets the GET's Content-Length, no body.
    port = herald.port if listener == "public" else herald.admin_port
    with H.connect(port) as sock:
        sock.sendall(b"HEAD /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        data = H.SockReader(sock).read_to_eof(time.monotonic() + 5)
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"Content-Length: 2" in head, head
    assert body == b"", f"a HEAD response carried a body: {body!r}"


def test_expect_100_continue_gets_an_interim_answer(herald):
    with H.connect(herald.admin_port) as sock:
        sock.sendall(b"POST /v1/publish?topic=e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 7\r\n\r\n")
        reader = H.SockReader(sock)
        interim = H.read_http_response(reader, 5, head_only=True)
        assert interim.status == 100
        sock.sendall(b'"hello"')
        final = H.read_http_response(reader, 5)
        assert final.status == 200
        assert final.json()["seq"] == 1


def test_expect_100_continue_without_the_token_is_refused_at_once(start_herald):
    h = start_herald("--admin-token", "secret")
    with H.connect(h.admin_port) as sock:
        sock.sendall(b"POST /v1/publish?topic=e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
                     b"Content-Length: 7\r\n\r\n")
        reader = H.SockReader(sock)
        resp = H.read_http_response(reader, 5)
        assert resp.status == 401
        assert reader.wait_eof(3)


def test_long_chunk_extension_is_refused(herald):
    raw = (b"POST /v1/publish?topic=x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"2;" + b"e" * 2048 + b"\r\nhi\r\n0\r\n\r\n")
    (resp,), closed, _ = admin_raw(herald.admin_port, raw)
    assert resp.status == 400
    assert closed
    samples = H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode())
    assert H.prom_value(samples, "herald_admin_requests_refused_total") >= 1


@pytest.mark.e2e_timeout(60)
def test_chunked_body_trickled_in_one_byte_chunks(herald):
    # Incremental: a 2,000-chunk body sent in pieces still publishes once,
    # exactly, with every byte in order.
    payload = bytes(range(97, 123)) * 40
    body = b"".join(b"1\r\n" + payload[i:i + 1] + b"\r\n" for i in range(len(payload))) + b"0\r\n\r\n"
    with H.connect(herald.admin_port) as sock:
        sock.sendall(b"POST /v1/publish?topic=trickle HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n")
        for i in range(0, len(body), 700):
            sock.sendall(body[i:i + 700])
            time.sleep(0.005)
        resp = H.read_http_response(H.SockReader(sock), 10)
    assert resp.status == 200, resp.body
    assert resp.json()["seq"] == 1


@pytest.mark.e2e_timeout(60)
def test_admin_head_deadline_closes_a_trickling_request(herald):
    with H.connect(herald.admin_port, timeout=15) as sock:
        sock.sendall(b"GET /v1/st")
        start = time.monotonic()
        reader = H.SockReader(sock)
        # One byte a second: never idle, never complete.
        resp = None
        for byte in b"ats HTTP/1.1\r\nHost: a\r\nX-Slow: yyyyyyyyyyyy":
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break
            if reader.buf or sock in __import__("select").select([sock], [], [], 1.0)[0]:
                resp = H.read_http_response(reader, 2)
                break
        assert resp is not None, "the server never answered a trickling head"
        assert resp.status == 408
        assert time.monotonic() - start < 12
    samples = H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode())
    assert H.prom_value(samples, "herald_admin_request_timeouts_total") >= 1


@pytest.mark.e2e_timeout(60)
def test_idle_unauthenticated_sockets_cannot_lock_out_a_publisher(start_herald):
    # One admin server: 1,024 places (each thread, or each shard with
    # --admin-threads 0, has its own).
    h = start_herald("--admin-token", "secret", "--admin-threads", "1")
    idle = []
    try:
        for _ in range(1100):  # more than every admin place
            s = socket.socket()
            s.settimeout(5)
            s.connect(("127.0.0.1", h.admin_port))
            idle.append(s)
        resp = H.admin_request(h.admin_port, "POST", "/v1/publish?topic=p", token="secret",
                               body=b'"x"', content_type="application/json")
        assert resp.status == 200, resp.body
        # A proven (authorized) keep-alive client keeps its place while
        # unproven newcomers keep arriving.
        with H.connect(h.admin_port) as keeper:
            keeper.sendall(b"GET /v1/stats HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer secret\r\n\r\n")
            reader = H.SockReader(keeper)
            assert H.read_http_response(reader, 5).status == 200
            for _ in range(1100):
                s = socket.socket()
                s.settimeout(5)
                s.connect(("127.0.0.1", h.admin_port))
                idle.append(s)
            keeper.sendall(b"GET /v1/stats HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer secret\r\n\r\n")
            assert H.read_http_response(reader, 5).status == 200
        samples = H.parse_prometheus(H.admin_get(h.admin_port, "/metrics", token="secret").body.decode())
        assert H.prom_value(samples, "herald_admin_connections_evicted_total") >= 1000
    finally:
        for s in idle:
            s.close()


# ---------------------------------------------------------------- public listener

def test_duplicate_url_topics_count_once(herald):
    topics = ",".join(["a"] * 65)
    with H.RawWS.open(herald.port, f"/ws?topics={topics}") as ws:
        H.admin_request(herald.admin_port, "POST", "/v1/publish?topic=a", body=b"1",
                        content_type="application/json")
        msg = ws.recv_json()
        assert msg["topic"] == "a" and msg["seq"] == 1
    assert H.admin_get(herald.admin_port, "/v1/topics/a").json()["subscribers"] in (0, 1)


@pytest.mark.parametrize("path", ["/echo", "/ws"])
def test_frame_behind_a_split_upgrade_request_is_kept_whole(echo_herald, path):
    # A 2.5 KB head that spans two reads, with a 2,000-byte message right
    # behind it, sent before the 101 arrives.
    key = H.make_key()
    padding = [("X-Pad", "p" * 2400)]
    head = H.upgrade_request(path, key=key, extra=padding)
    if path == "/echo":
        payload = bytes(i % 251 for i in range(2000))
        frame = H.build_frame(H.OP_BINARY, payload)
    else:
        payload = ('{"type":"subscribe","topic":"' + "t" * 60 + '"}' + " " * 1920).encode()
        frame = H.build_frame(H.OP_TEXT, payload)
    with H.connect(echo_herald.port) as sock:
        sock.sendall(head[:1500])
        time.sleep(0.2)
        sock.sendall(head[1500:] + frame)
        reader = H.SockReader(sock)
        resp = H.read_http_response(reader, 5, head_only=True)
        H.check_upgrade_response(resp, key)
        ws = H.RawWS(sock, reader.buf, resp)
        opcode, data = ws.recv_message(5)
        if path == "/echo":
            assert opcode == H.OP_BINARY and data == payload
        else:
            import json
            reply = json.loads(data)
            assert (reply["type"], reply["topic"], reply["seq"]) == ("subscribed", "t" * 60, 0)


def test_an_admin_client_that_pipelines_without_reading_holds_little(herald):
    # Answers are gathered up to 64 KiB before a send; while that send cannot
    # complete (the client never reads) nothing more is parsed or received,
    # so TCP flow control holds the client back. The server's memory stays
    # put and other admin clients are served meanwhile.
    from test_hostile_clients import rss_bytes
    before = rss_bytes(herald.proc.pid)
    request = b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"
    stuck = H.connect(herald.admin_port)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.setblocking(False)
    sent = 0
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and sent < 64 * 1024 * 1024:
        try:
            sent += stuck.send(request * 1024)
        except BlockingIOError:
            time.sleep(0.05)
    try:
        assert sent < 64 * 1024 * 1024, f"the server kept reading a client that never reads its answers ({sent} B)"
        assert H.admin_get(herald.admin_port, "/healthz").status == 200, "another admin client is still served"
        grown = rss_bytes(herald.proc.pid) - before
        assert grown < 16 * 1024 * 1024, f"server grew {grown} bytes for {sent} bytes of unanswered requests"
    finally:
        stuck.close()
