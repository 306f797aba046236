"""The Swift client (Clients/Swift, issue 11) against the real herald:
live messages, recovery after a server-side cut, a reset after a restart,
in-band token refresh, and 4001 stopping it. Drives `herald-swift-probe`,
a small program of the package that prints every HeraldClient event as a
JSON line (`make swift-client` builds it and runs the package's unit tests)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time
from pathlib import Path

import pytest

import herald_e2e as H
from test_auth import SECRET
from test_auth import token as signed_token

ROOT = Path(__file__).resolve().parents[2]
PROBE = Path(os.environ.get("HERALD_SWIFT_PROBE", ROOT / "Clients/Swift/.build/debug/herald-swift-probe"))


@pytest.fixture(scope="module")
def probe_binary() -> Path:
    if not PROBE.exists():
        if os.environ.get("HERALD_REQUIRE_SWIFT_CLIENT") == "1":
            pytest.fail(f"{PROBE} missing: `make swift-client` builds it", pytrace=False)
        pytest.skip("the Swift client's probe is not built (make swift-client)")
    return PROBE


class Probe:
    def __init__(self, binary: Path, url: str, *topics: str, token_file: Path | None = None, zstd: bool = False):
        argv = [str(binary), url, *topics]
        if token_file is not None:
            argv += ["--token-file", str(token_file)]
        if zstd:
            argv.append("--zstd")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))
        self.lines.put(None)

    def next(self, timeout: float = 15.0) -> dict:
        event = self.lines.get(timeout=timeout)
        assert event is not None, f"probe ended; stderr: {self.proc.stderr.read()[-2000:]}"
        self.seen.append(event)
        return event

    def until(self, predicate, timeout: float = 15.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            event = self.next(max(0.1, deadline - time.monotonic()))
            if predicate(event):
                return event

    def messages(self, count: int, timeout: float = 15.0) -> list[dict]:
        return [self.until(lambda e: e["event"] == "message", timeout) for _ in range(count)]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def publish(h: H.HeraldProcess, topic: str, data) -> dict:
    r = H.admin_request(h.admin_port, "POST", f"/v1/publish?topic={topic}", body=json.dumps(data).encode(),
                        content_type="application/json")
    assert r.status == 200, r.body
    return r.json()


def connected(event: dict) -> bool:
    return event["event"] == "state" and event["state"] == "connected"


def test_live_messages_and_recovery_after_a_server_side_cut(start_herald, probe_binary, tmp_path):
    herald = start_herald("--jwt-secret", SECRET)
    token_file = tmp_path / "token"
    token_file.write_text(signed_token({"sub": "app-1", "topics": ["orders/*"], "exp": int(time.time()) + 3600}))
    probe = Probe(probe_binary, f"ws://127.0.0.1:{herald.port}/ws", "orders/7", token_file=token_file)
    try:
        probe.until(connected)
        H.wait_until(lambda: H.admin_get(herald.admin_port, "/v1/topics/orders%2F7").json()["subscribers"] == 1, 15,
                     desc="the probe's subscription")
        for i in range(1, 4):
            publish(herald, "orders/7", {"n": i, "price": 1.50})
        first = probe.messages(3)
        # The data arrives as published, byte for byte (1.50 stays 1.50).
        assert [(m["seq"], m["data"]) for m in first] == [(i, {"n": i, "price": 1.5}) for i in range(1, 4)]
        cut = H.admin_request(herald.admin_port, "POST", "/v1/disconnect", body=b'{"sub":"app-1"}',
                              content_type="application/json")
        assert cut.json() == {"closed": 1}
        for i in range(4, 8):
            publish(herald, "orders/7", {"n": i})
        closed = probe.until(lambda e: e["event"] == "state" and e["state"] == "disconnected")
        assert closed["code"] == 4000
        probe.until(connected)
        # Recovered with `since` (or live): every seq exactly once, in order.
        rest = probe.messages(4)
        assert [m["seq"] for m in rest] == [4, 5, 6, 7]
        assert not [e for e in probe.seen if e["event"] in ("gap", "reset")], probe.seen
    finally:
        probe.stop()


def test_zstd_with_a_trained_dictionary_across_a_cut(start_herald, probe_binary, tmp_path):
    # LibzstdDecoder (HeraldClientZstd): the dictionary trained at the 20th
    # message arrives once, messages decode with it, a cut is recovered (the
    # replay in zstd frames too) and the held dictionary is listed in zstd_dicts=,
    # so the server does not send it again.
    from test_zstd import chat_event
    herald = start_herald("--jwt-secret", SECRET, "--history-size", "100", "--zstd-train-after", "20")
    token_file = tmp_path / "token"
    token_file.write_text(signed_token({"sub": "app-z", "topics": ["chat"], "exp": int(time.time()) + 3600}))
    probe = Probe(probe_binary, f"ws://127.0.0.1:{herald.port}/ws", "chat", token_file=token_file, zstd=True)

    def metric(name: str) -> float:
        samples = H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode())
        return H.prom_value(samples, name) or 0

    try:
        probe.until(connected)
        H.wait_until(lambda: H.admin_get(herald.admin_port, "/v1/topics/chat").json()["subscribers"] == 1, 15,
                     desc="the probe's subscription")
        events = [chat_event(i) for i in range(40)]
        for event in events[:20]:
            publish(herald, "chat", event)
        # The 20th queued the training; it runs on the trainer thread.
        H.wait_until(lambda: metric("herald_zstd_trainings_total") == 1, 30, desc="the trained dictionary")
        for event in events[20:25]:
            publish(herald, "chat", event)
        first = probe.messages(25)
        assert [(m["seq"], m["data"]) for m in first] == [(n + 1, e) for n, e in enumerate(events[:25])]
        assert metric("herald_zstd_dictionaries_sent_total") == 1
        cut = H.admin_request(herald.admin_port, "POST", "/v1/disconnect", body=b'{"sub":"app-z"}',
                              content_type="application/json")
        assert cut.json() == {"closed": 1}
        for event in events[25:30]:
            publish(herald, "chat", event)
        probe.until(lambda e: e["event"] == "state" and e["state"] == "disconnected")
        probe.until(connected)
        recovered = probe.messages(5)
        for event in events[30:]:
            publish(herald, "chat", event)
        live = probe.messages(10)
        assert [(m["seq"], m["data"]) for m in recovered + live] == [(n + 26, e) for n, e in enumerate(events[25:])]
        assert metric("herald_zstd_dictionaries_sent_total") == 1, "the held dictionary was sent again"
        assert not [e for e in probe.seen if e["event"] in ("gap", "reset", "error")], probe.seen
    finally:
        probe.stop()


def test_a_restart_is_reported_as_a_reset(start_herald, probe_binary):
    herald = start_herald()
    probe = Probe(probe_binary, f"ws://127.0.0.1:{herald.port}/ws", "news")
    try:
        probe.until(connected)
        H.wait_until(lambda: H.admin_get(herald.admin_port, "/v1/topics/news").json()["subscribers"] == 1, 15,
                     desc="the probe's subscription")
        publish(herald, "news", 1)
        assert probe.messages(1)[0]["seq"] == 1
        port = herald.port
        herald.stop()
        restarted = start_herald("--listen", f"127.0.0.1:{port}")
        reset = probe.until(lambda e: e["event"] == "reset")
        assert reset["topic"] == "news" and reset["reason"] in ("epoch", "not_recovered")
        publish(restarted, "news", 2)
        assert probe.messages(1)[0]["seq"] == 1  # the new epoch starts again at 1
    finally:
        probe.stop()


def test_the_token_is_refreshed_in_band_before_it_expires(start_herald, probe_binary, tmp_path):
    herald = start_herald("--jwt-secret", SECRET)
    token_file = tmp_path / "token"
    token_file.write_text(signed_token({"sub": "u", "topics": ["t"], "exp": int(time.time()) + 4}))
    probe = Probe(probe_binary, f"ws://127.0.0.1:{herald.port}/ws", "t", token_file=token_file)
    try:
        probe.until(connected)
        # The next token the provider will hand out lasts an hour.
        token_file.write_text(signed_token({"sub": "u", "topics": ["t"], "exp": int(time.time()) + 3600}))
        def refreshes() -> float:
            samples = H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode())
            return H.prom_value(samples, "herald_token_refreshes_total") or 0

        H.wait_until(lambda: refreshes() >= 1, 15, desc="an in-band refresh")
        time.sleep(2.5)  # past the first token's exp: still connected
        publish(herald, "t", "still here")
        assert probe.messages(1)[0]["data"] == "still here"
        assert not [e for e in probe.seen if e["event"] == "state" and e["state"] == "disconnected"], probe.seen
    finally:
        probe.stop()


def test_a_refused_token_stops_the_client(start_herald, probe_binary, tmp_path):
    herald = start_herald("--jwt-secret", SECRET)
    token_file = tmp_path / "token"
    token_file.write_text("not-a-token")
    probe = Probe(probe_binary, f"ws://127.0.0.1:{herald.port}/ws", "t", token_file=token_file)
    try:
        assert probe.until(lambda e: e["event"] == "state" and e["state"] == "disconnected")["code"] == 4001
        assert probe.until(lambda e: e["event"] == "state")["state"] == "closed"
        assert probe.proc.wait(10) == 0
    finally:
        probe.stop()
