"""Hostile and stuck WebSocket clients (issue 7): floods that used to grow
memory without bound, stuck readers that used to freeze a whole ring, and
loss that used to go unannounced. Every bound asserted here is documented in
Docs/OPERATIONS.md "Limits"; no assertion depends on how fast this machine
is (deadlines are generous upper bounds, never measurements)."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

import herald_e2e as H


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class PeakRSS:
    """Samples a process's RSS every 20 ms until stopped."""

    def __init__(self, pid: int):
        self.pid = pid
        self.peak = rss_bytes(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, rss_bytes(self.pid))
            except (OSError, AssertionError):
                return
            time.sleep(0.02)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(2)
        return self.peak


def stuck_client(port: int, path: str, rcvbuf: int = 4096) -> socket.socket:
    """Upgrades, reads the 101, then never reads again (a tiny receive buffer)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    if port in H.TLS_PORTS:  # test_over_tls_hostile_clients.py
        sock = H.TLS_PORTS[port].wrap_socket(sock, server_hostname="localhost")
    key = H.make_key()
    sock.sendall(H.upgrade_request(path, key=key))
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)
        assert chunk, "closed during the upgrade"
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock


def publish(port: int, topic: str, body: bytes, content_type: str = "application/json") -> H.AdminResponse:
    return H.admin_request(port, "POST", f"/v1/publish?topic={topic}", body=body, content_type=content_type)


def metric(h: H.HeraldProcess, name: str) -> float:
    samples = H.parse_prometheus(H.admin_get(h.admin_port, "/metrics").body.decode())
    return H.prom_value(samples, name) or 0.0


def flood(sock: socket.socket, frame: bytes, count: int, seconds: float) -> int:
    """Sends `frame` `count` times without reading, for at most `seconds`;
    waits while the server does not read (TCP window full), stops if it
    closes. Returns frames sent whole. The stream stays frame-aligned."""
    sock.setblocking(False)
    block = frame * 256
    total = len(frame) * count
    sent_bytes = 0
    deadline = time.monotonic() + seconds
    while sent_bytes < total and time.monotonic() < deadline:
        offset = sent_bytes % len(block)
        try:
            sent_bytes += sock.send(block[offset: offset + min(len(block) - offset, total - sent_bytes)])
        except BlockingIOError:
            time.sleep(0.01)
        except OSError:
            break
    sock.setblocking(True)
    return sent_bytes // len(frame)


@pytest.mark.e2e_timeout(90)
@pytest.mark.parametrize("kind", ["control", "json"])
def test_ping_flood_from_a_client_that_never_reads_is_bounded(start_herald, kind):
    # A small kernel send buffer, so the socket refuses bytes early (with
    # autotuning it can absorb megabytes of pongs before Herald sees a stall;
    # the heartbeat then ends the connection instead).
    h = start_herald("--shards", "1", "--socket-send-buffer-bytes", "16384")
    time.sleep(0.3)
    baseline = rss_bytes(h.proc.pid)
    sampler = PeakRSS(h.proc.pid)
    sock = stuck_client(h.port, "/ws")
    if kind == "control":
        frame = H.build_frame(H.OP_PING, b"")
    else:
        frame = H.build_frame(H.OP_TEXT, b'{"type":"ping"}')
    # A healthy neighbour on the same shard keeps getting answers.
    with H.RawWS.open(h.port, "/ws?topics=calm") as calm:
        sent = flood(sock, frame, 1_000_000, 20)
        assert sent > 1000, "the flood did not get going"
        calm.send_json({"type": "ping"})
        assert calm.recv_json(10) == {"type": "pong"}
        assert publish(h.admin_port, "calm", b"1").status == 200
        assert calm.recv_json(10)["seq"] == 1
    peak = sampler.stop()
    # Docs/OPERATIONS.md "Limits": one connection holds at most
    # --send-queue-bytes-max (1 MiB) plus one turn's input; 1 GB before the fix.
    assert peak - baseline < 48 * 1024 * 1024, f"RSS grew {(peak - baseline) >> 20} MiB under a ping flood"
    if kind == "control":
        # RFC 6455 §5.5.3: once the socket refuses bytes, one pending pong
        # answers the latest ping.
        assert metric(h, "herald_pings_coalesced_total") >= 1
    else:
        # Every reply is queued and counted: the queue goes over its limit
        # and input is paused.
        assert metric(h, "herald_reads_paused_total") >= 1
    # Either way the socket stays stalled: the send timeout (or the queue
    # limit) closes it, 1008, and its memory is freed.
    H.wait_until(lambda: metric(h, "herald_connections") <= 0, 30, desc="the flooder closed")
    assert metric(h, "herald_send_timeouts_total") + metric(h, "herald_send_queue_full_closes_total") >= 1
    sock.close()
    # And the memory is given back once it is over (an idle shard trims its
    # arenas; Docs/OPERATIONS.md "Limits").
    H.wait_until(lambda: rss_bytes(h.proc.pid) - baseline < 12 * 1024 * 1024, 30,
                 desc=f"RSS back near {baseline >> 20} MiB (peak {peak >> 20} MiB)")


@pytest.mark.e2e_timeout(120)
def test_stuck_readers_hold_no_shared_send_resource(start_herald):
    # 1,100 subscribers that never read (more than a ring's 1,024 send
    # batches) must not freeze anything else on the ring: a healthy
    # subscriber's messages and pongs, /healthz and new upgrades go on.
    # --send-timeout is long so the stuck ones stay stuck throughout.
    h = start_herald("--shards", "1", "--send-timeout", "120", "--socket-send-buffer-bytes", "4096",
                     "--connections-max", "5000")
    stuck = [stuck_client(h.port, "/ws?topics=stuck") for _ in range(1100)]
    # One fast reader among them, on their topic: it must get every message,
    # in order (before the fix it got 7 of 400, out of order, no gap).
    fast = H.RawWS.open(h.port, "/ws?topics=stuck")
    try:
        for i in range(4):
            assert publish(h.admin_port, "stuck", json.dumps({"i": i, "pad": "x" * 8000}).encode()).status == 200
        H.wait_until(lambda: metric(h, "herald_send_waits_for_room_total") >= 1000, 30,
                     desc="every stuck reader waiting for room")
        for i in range(4, 400):
            assert publish(h.admin_port, "stuck", json.dumps({"i": i}).encode()).status == 200
        got = [fast.recv_json(10) for _ in range(400)]
        assert [m["seq"] for m in got] == list(range(1, 401))
        assert [m["data"]["i"] for m in got] == list(range(400))
        with H.RawWS.open(h.port, "/ws?topics=ok") as ok:
            assert publish(h.admin_port, "ok", b'"hello"').status == 200
            assert ok.recv_json(10) == {"type": "message", "topic": "ok", "seq": 1, "data": "hello"}
            ok.send_frame(H.OP_PING, b"p")
            f = ok.recv_frame(10)
            assert f.opcode == H.OP_PONG and f.payload == b"p"
        resp = H.http_get(h.port, "/healthz", timeout=10)
        assert resp.status == 200
        assert metric(h, "herald_slow_consumer_disconnects_total") == 0
    finally:
        fast.close()
        for s in stuck:
            s.close()


@pytest.mark.e2e_timeout(60)
def test_stalled_socket_is_closed_by_time_not_only_by_bytes(start_herald):
    # The queue stays far below --send-queue-bytes-max (1 MiB), yet a reader
    # that stopped is found: its socket refused bytes for --send-timeout.
    h = start_herald("--shards", "1", "--send-timeout", "1", "--socket-send-buffer-bytes", "4096")
    sock = stuck_client(h.port, "/ws?topics=slow")
    for i in range(8):
        assert publish(h.admin_port, "slow", json.dumps({"pad": "y" * 16000}).encode()).status == 200
    H.wait_until(lambda: metric(h, "herald_send_timeouts_total") >= 1, 15, desc="send timeout")
    assert metric(h, "herald_slow_consumer_disconnects_total") >= 1
    sock.settimeout(15)
    # The connection ends (the close frame sits behind unread data; the
    # close timeout then drops it).
    H.wait_until(lambda: metric(h, "herald_connections") == 0, 15, desc="the stuck reader closed")
    sock.close()


@pytest.mark.e2e_timeout(60)
def test_drop_policy_announces_exactly_what_was_missed(start_herald):
    h = start_herald("--shards", "1", "--slow-consumer-policy", "drop", "--send-timeout", "1",
                     "--socket-send-buffer-bytes", "4096")
    sock = stuck_client(h.port, "/ws?topics=d")
    total = 0
    for _ in range(12):
        total += 1
        assert publish(h.admin_port, "d", json.dumps({"pad": "z" * 8000}).encode()).status == 200
    # Stalled past the send timeout: the next publishes are dropped.
    H.wait_until(lambda: metric(h, "herald_send_timeouts_total") >= 1, 15, desc="send timeout")
    for _ in range(5):
        total += 1
        assert publish(h.admin_port, "d", b'{"late":true}').status == 200
    H.wait_until(lambda: metric(h, "herald_messages_dropped_total") >= 1, 10, desc="drops")
    # Now read everything: every seq 1..total is either delivered in order
    # or named by a gap, exactly once. The gap is announced when the queue
    # has drained; a last publish then arrives live, after it.
    ws = H.RawWS(sock)
    covered: list[int] = []
    gaps = 0

    def read_until(count: int) -> None:
        nonlocal gaps
        while len(covered) < count:
            msg = json.loads(ws.recv_message(10)[1])
            if msg["type"] == "message":
                covered.append(msg["seq"])
            elif msg["type"] == "gap":
                gaps += 1
                assert msg["topic"] == "d" and msg["epoch"], msg
                covered.extend(range(msg["from"], msg["to"] + 1))

    read_until(total)
    total += 1
    assert publish(h.admin_port, "d", b'{"after":true}').status == 200
    read_until(total)
    assert gaps >= 1, "drops happened but no gap was announced"
    assert covered == list(range(1, total + 1)), f"not every seq exactly once in order: {covered}"
    assert metric(h, "herald_gaps_sent_total") >= 1
    ws.close()
