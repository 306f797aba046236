"""Admin listener: health, stats, metrics, auth, errors, keep-alive."""
from __future__ import annotations

import socket

import json
import time

import pytest

import herald_e2e as H


def test_admin_healthz(herald):
    r = H.admin_get(herald.admin_port, "/healthz")
    assert r.status == 200
    assert r.body.strip() == b"ok"


def test_stats_shape(herald):
    s = H.get_stats(herald.admin_port)
    for key in ("connections", "connections_total", "bytes_received_total", "bytes_sent_total"):
        assert isinstance(s.get(key), int) and not isinstance(s.get(key), bool), f"{key}: {s.get(key)!r}"
    assert s["connections"] == 0
    assert isinstance(s.get("handshakes_failed"), dict), s
    assert isinstance(s.get("closes"), dict), s
    shards = s.get("shards")
    assert isinstance(shards, list) and len(shards) == 2, f"--shards 2 but shards={shards!r}"
    assert sorted(x["shard"] for x in shards) == [0, 1] or sorted(x["shard"] for x in shards) == [1, 2], shards
    for x in shards:
        assert isinstance(x.get("connections"), int), x


def test_stats_content_type_json(herald):
    r = H.admin_get(herald.admin_port, "/v1/stats")
    assert r.status == 200
    assert "application/json" in r.content_type, r.headers


def test_stats_counts_connections(echo_herald):
    port = echo_herald.admin_port
    socks = [H.RawWS.open(echo_herald.port, "/echo") for _ in range(5)]
    try:
        s = H.wait_stat(port, lambda s: s["connections"] == 5, desc="connections == 5")
        assert s["connections_total"] >= 5
        assert sum(x["connections"] for x in s["shards"]) == 5, s["shards"]
        for ws in socks[:3]:
            ws.send_close(1000)
            ws.expect_close(reply=False)
        s = H.wait_stat(port, lambda s: s["connections"] == 2, desc="connections == 2")
        assert s["connections_total"] == 5
    finally:
        for ws in socks:
            ws.close()
    s = H.wait_stat(port, lambda s: s["connections"] == 0, desc="connections back to 0")
    assert s["connections_total"] == 5
    assert sum(x["connections"] for x in s["shards"]) == 0


def test_stats_ignores_failed_handshakes_and_http(herald):
    H.http_get(herald.port, "/healthz")
    H.http_exchange(herald.port, H.upgrade_request("/nope", "x"), check_close=True)
    s = H.get_stats(herald.admin_port)
    assert s["connections"] == 0 and s["connections_total"] == 0, s


def test_stats_bytes_move(echo_herald):
    before = H.get_stats(echo_herald.admin_port)
    with H.RawWS.open(echo_herald.port, "/echo") as ws:
        for _ in range(10):
            ws.roundtrip(H.OP_BINARY, b"x" * 1000)
    after = H.wait_stat(
        echo_herald.admin_port,
        lambda s: s["bytes_received_total"] - before["bytes_received_total"] >= 10000
        and s["bytes_sent_total"] - before["bytes_sent_total"] >= 10000,
        desc="byte counters moved by >= 10000")
    assert after["bytes_received_total"] >= before["bytes_received_total"]


FAILURES = {
    "not_found": lambda p: H.upgrade_request("/nope", f"127.0.0.1:{p}"),
    "bad_request": lambda p: H.upgrade_request("/ws", f"127.0.0.1:{p}", drop=["Sec-WebSocket-Key"]),
    "version": lambda p: H.upgrade_request("/ws", f"127.0.0.1:{p}", version="8"),
    "too_large": lambda p: H.upgrade_request("/ws", f"127.0.0.1:{p}", extra=[("X-Pad", "a" * 9000)]),
}


@pytest.mark.parametrize("reason", sorted(FAILURES))
def test_handshake_failure_counted(herald, reason):
    before = H.get_stats(herald.admin_port)["handshakes_failed"].get(reason, 0)
    for _ in range(2):
        H.http_exchange(herald.port, FAILURES[reason](herald.port), check_close=True)
    H.wait_stat(herald.admin_port, lambda s: s["handshakes_failed"].get(reason, 0) == before + 2,
                desc=f"handshakes_failed.{reason} += 2")


def test_handshake_timeout_counted(start_herald):
    h = start_herald("--handshake-timeout", "0.5")
    with H.connect(h.port) as sock:
        sock.sendall(b"GET /ws HTTP/1.1\r\n")
        assert H.SockReader(sock).wait_eof(4)
    H.wait_stat(h.admin_port, lambda s: s["handshakes_failed"].get("timeout", 0) == 1,
                desc="handshakes_failed.timeout == 1")


def test_closes_counted_by_code(echo_herald):
    with H.RawWS.open(echo_herald.port, "/echo") as ws:
        ws.send_close(1000)
        ws.expect_close(reply=False)
    with H.RawWS.open(echo_herald.port, "/echo") as ws:
        ws.send_frame(0x3, b"x")
        ws.expect_close_code(1002)
    with H.RawWS.open(echo_herald.port, "/echo") as ws:
        ws.send_text(b"\xff")
        ws.expect_close_code(1007)
    H.wait_stat(echo_herald.admin_port,
                lambda s: all(s["closes"].get(c, 0) == 1 for c in ("1000", "1002", "1007")),
                desc='closes {"1000":1,"1002":1,"1007":1}')


# ---------------------------------------------------------------- metrics

def test_metrics_exposition(echo_herald):
    with H.RawWS.open(echo_herald.port, "/echo") as ws:
        ws.roundtrip(H.OP_TEXT, b"hello")
        H.http_exchange(echo_herald.port, H.upgrade_request("/nope", "x"), check_close=True)
        H.wait_stat(echo_herald.admin_port, lambda s: s["handshakes_failed"].get("not_found", 0) == 1,
                    desc="not_found counted")
        r = H.admin_get(echo_herald.admin_port, "/metrics")
        assert r.status == 200
        assert r.content_type.startswith("text/plain"), r.headers
        text = r.body.decode()
        samples = H.parse_prometheus(text)
        assert H.prom_value(samples, "herald_connections") == 1, text
        assert H.prom_value(samples, "herald_connections_total") >= 1, text
        assert H.prom_value(samples, "herald_handshakes_failed_total", reason="not_found") == 1, text
        assert H.prom_value(samples, "herald_bytes_received_total") > 0, text
        assert H.prom_value(samples, "herald_bytes_sent_total") > 0, text
        ws.send_close(1000)
        ws.expect_close(reply=False)
    H.wait_stat(echo_herald.admin_port, lambda s: s["connections"] == 0, desc="closed")
    samples = H.parse_prometheus(H.admin_get(echo_herald.admin_port, "/metrics").body.decode())
    assert H.prom_value(samples, "herald_connections") == 0
    assert H.prom_value(samples, "herald_closes_total", code="1000") == 1
    for (name, _labels) in samples:
        assert name.startswith("herald_"), f"metric without the herald_ prefix: {name}"


def test_metrics_type_lines(herald):
    text = H.admin_get(herald.admin_port, "/metrics").body.decode()
    for name in ("herald_connections", "herald_connections_total", "herald_bytes_received_total",
                 "herald_bytes_sent_total"):
        assert f"# TYPE {name} " in text, f"no TYPE line for {name}:\n{text}"
    assert "# TYPE herald_handshakes_failed_total counter" in text
    assert "# TYPE herald_closes_total counter" in text


# ---------------------------------------------------------------- auth

TOKEN = "s3cr3t-t0ken"


@pytest.fixture
def secured(start_herald):
    return start_herald("--admin-token", TOKEN)


@pytest.mark.parametrize("path", ["/v1/stats", "/metrics", "/healthz", "/nope"])
@pytest.mark.parametrize("auth", [None, "wrong", "Bearer", "Basic"], ids=["none", "wrong", "empty-bearer", "basic"])
def test_admin_token_required(secured, path, auth):
    headers = {}
    if auth == "wrong":
        headers["Authorization"] = "Bearer not-the-token"
    elif auth == "Bearer":
        headers["Authorization"] = "Bearer "
    elif auth == "Basic":
        headers["Authorization"] = f"Basic {TOKEN}"
    r = H.admin_get(secured.admin_port, path, headers=headers)
    assert r.status == 401, f"{path} with {auth!r} -> {r.status}"
    body = r.json()
    assert isinstance(body.get("error"), str), body


def test_admin_token_accepted(secured):
    assert H.admin_get(secured.admin_port, "/healthz", token=TOKEN).status == 200
    s = H.get_stats(secured.admin_port, token=TOKEN)
    assert s["connections"] == 0
    assert H.admin_get(secured.admin_port, "/metrics", token=TOKEN).status == 200


def test_admin_token_does_not_affect_public_listener(secured):
    with H.RawWS.open(secured.port, "/ws") as ws:
        ws.send_json({"type": "ping"})
        assert ws.recv_json() == {"type": "pong"}


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("path", ["/nope", "/v1", "/v1/statsx", "/v2/stats"])
def test_admin_unknown_path_404_json(herald, path):
    r = H.admin_get(herald.admin_port, path)
    assert r.status == 404
    assert isinstance(r.json().get("error"), str), r.body


@pytest.mark.parametrize("method,path", [("POST", "/v1/stats"), ("DELETE", "/v1/stats"),
                                         ("PUT", "/metrics"), ("POST", "/healthz")])
def test_admin_wrong_method_405(herald, method, path):
    r = H.admin_request(herald.admin_port, method, path, body=b"" if method in ("POST", "PUT") else None)
    assert r.status == 405, f"{method} {path} -> {r.status}"
    assert isinstance(r.json().get("error"), str), r.body


def test_admin_keep_alive_two_requests_one_connection(herald):
    req = H.build_request("GET", "/v1/stats", [("Host", f"127.0.0.1:{herald.admin_port}")])
    with H.connect(herald.admin_port) as sock:
        reader = H.SockReader(sock)
        sock.sendall(req)
        r1 = H.read_http_response(reader)
        assert r1.status == 200 and "close" not in r1.header_tokens("connection"), r1.raw_head
        json.loads(r1.body)
        sock.sendall(H.build_request("GET", "/healthz", [("Host", "x")]))
        r2 = H.read_http_response(reader)
        assert r2.status == 200 and r2.body.strip() == b"ok"


def test_admin_pipelined_requests(herald):
    req = (H.build_request("GET", "/healthz", [("Host", "x")]) +
           H.build_request("GET", "/v1/stats", [("Host", "x")]) +
           H.build_request("GET", "/healthz", [("Host", "x"), ("Connection", "close")]))
    with H.connect(herald.admin_port) as sock:
        sock.sendall(req)
        reader = H.SockReader(sock)
        statuses = [H.read_http_response(reader).status for _ in range(3)]
        assert statuses == [200, 200, 200]
        assert reader.wait_eof(3), "server kept the connection after Connection: close"


def test_admin_survives_garbage(herald):
    with H.connect(herald.admin_port) as sock:
        sock.sendall(b"\x00\x01garbage\r\n\r\n")
        reader = H.SockReader(sock)
        try:
            resp = H.read_http_response(reader, timeout=3)
            assert 400 <= resp.status < 500, resp.raw_head
        except (EOFError, TimeoutError):
            pass  # closing without an answer is fine too
    assert H.admin_get(herald.admin_port, "/healthz").status == 200


def test_admin_parallel_connections(herald):
    socks = [H.connect(herald.admin_port) for _ in range(20)]
    try:
        for s in socks:
            s.sendall(H.build_request("GET", "/healthz", [("Host", "x")]))
        for s in socks:
            assert H.read_http_response(H.SockReader(s)).status == 200
    finally:
        for s in socks:
            s.close()
    t0 = time.monotonic()
    assert H.admin_get(herald.admin_port, "/healthz").status == 200
    assert time.monotonic() - t0 < 2


def test_idempotency_key_publishes_once(herald):
    with H.RawWS.open(herald.port, "/ws?topics=idem") as ws:
        def post(body: bytes, key: str = "order-17"):
            return H.admin_request(herald.admin_port, "POST", "/v1/publish?topic=idem", body=body,
                                   content_type="application/json", headers={"Idempotency-Key": key})
        first = post(b'{"n":1}')
        again = post(b'{"n":1}')
        assert first.status == again.status == 200
        assert first.json() == again.json() and first.json()["seq"] == 1
        assert again.headers.get("idempotent-replayed") == "true"
        assert ws.recv_json() == {"type": "message", "topic": "idem", "seq": 1, "data": {"n": 1}}
        # The same key for another request is refused; a new key publishes.
        assert post(b'{"n":2}').status == 422
        assert post(b'{"n":2}', key="order-18").json()["seq"] == 2
        assert ws.recv_json()["seq"] == 2
        assert post(b"1", key="has space").status == 400
    samples = H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode())
    assert H.prom_value(samples, "herald_idempotent_replays_total") == 1
    assert H.admin_get(herald.admin_port, "/v1/topics/idem").json()["seq"] == 2


def test_latency_histograms_and_queue_gauges(start_herald):
    # Histograms of publish → delivery and accept → 101, and gauges of
    # what waits: counts only (never timings: those depend on the machine).
    herald = start_herald("--shards", "2")
    sockets = [H.RawWS.open(herald.port, "/ws?topics=h") for _ in range(3)]
    try:
        H.wait_until(lambda: H.admin_get(herald.admin_port, "/v1/topics/h").json()["subscribers"] == 3, 5)
        for n in range(5):
            r = H.admin_request(herald.admin_port, "POST", "/v1/publish?topic=h", body=str(n).encode(),
                                content_type="application/json")
            assert r.status == 200
        for ws in sockets:
            assert [ws.recv_json()["seq"] for _ in range(5)] == [1, 2, 3, 4, 5]
        text = H.admin_get(herald.admin_port, "/metrics").body.decode()
        samples = H.parse_prometheus(text)
        assert "# TYPE herald_publish_delivery_seconds histogram" in text
        shards_with_subscribers = sum(
            1 for shard in H.get_stats(herald.admin_port)["shards"] if shard["connections"] > 0)
        # One observation per publish per shard holding subscribers.
        assert H.prom_value(samples, "herald_publish_delivery_seconds_count") == 5 * shards_with_subscribers
        assert H.prom_value(samples, "herald_publish_delivery_seconds_bucket", le="+Inf") == 5 * shards_with_subscribers
        assert H.prom_value(samples, "herald_handshake_seconds_count") == 3
        # Every publish waited for and held the registry's lock once.
        assert H.prom_value(samples, "herald_registry_publish_lock_wait_seconds_count") == 5
        assert H.prom_value(samples, "herald_registry_publish_lock_hold_seconds_count") == 5
        buckets = sorted((float(dict(labels)["le"]), value) for (name, labels), value in samples.items()
                         if name == "herald_handshake_seconds_bucket" and dict(labels)["le"] != "+Inf")
        assert [v for _, v in buckets] == sorted(v for _, v in buckets), "cumulative buckets never decrease"
        for shard in ("0", "1"):
            assert H.prom_value(samples, "herald_shard_delivery_backlog_messages", shard=shard) == 0
            assert H.prom_value(samples, "herald_shard_connections_over_send_limit", shard=shard) == 0
            assert H.prom_value(samples, "herald_shard_send_queue_bytes", shard=shard) == 0
    finally:
        for ws in sockets:
            ws.close()


def test_send_queue_gauges_see_a_stuck_reader(start_herald):
    herald = start_herald("--shards", "1", "--send-queue-bytes-max", "65536", "--slow-consumer-policy", "drop",
                          "--socket-send-buffer-bytes", "16384")
    stuck = H.RawWS.open(herald.port, "/ws?topics=g", timeout=5)
    stuck.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        H.wait_until(lambda: H.admin_get(herald.admin_port, "/v1/topics/g").json()["subscribers"] == 1, 5)
        for n in range(200):
            H.admin_request(herald.admin_port, "POST", "/v1/publish?topic=g", body=b'"' + b"x" * 4000 + b'"',
                            content_type="application/json")

        def queued() -> float:
            samples = H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode())
            return H.prom_value(samples, "herald_shard_send_queue_bytes", shard="0") or 0
        H.wait_until(lambda: queued() > 0, 10, desc="bytes waiting for the stuck reader")
    finally:
        stuck.close()
    H.wait_stat(herald.admin_port, lambda s: s["connections"] == 0, 10, desc="stuck reader gone")
    H.wait_until(lambda: queued() == 0, 10, desc="its queue released")
