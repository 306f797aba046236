#!/usr/bin/env python3
"""Publishing while --zstd-train-after trains many topics (issue 12 notes;
a measurement for Docs/BENCHMARKS.md, not a test).

Starts herald with --zstd-train-after 16 --history-size 100 and publishes
16 chat-like messages to each of TOPICS topics, one keep-alive connection,
one request at a time: every topic's 16th publish triggers a training.
Prints the publishes' round-trip p50/p99/max, the time they took, and when
every topic's dictionary was trained.

    LoadGen/scripts/train_storm.py HERALD [TOPICS]
"""
import http.client
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Tests" / "e2e"))
import herald_e2e as H
binary = sys.argv[1]; topics = int(sys.argv[2]) if len(sys.argv) > 2 else 300
h = H.HeraldProcess([binary, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--zstd-train-after", "16",
                     "--history-size", "100"], H.clean_env()).wait_ready()
try:
    conn = http.client.HTTPConnection("127.0.0.1", h.admin_port)
    lat = []
    start = time.monotonic()
    for t in range(topics):
        for i in range(16):
            body = json.dumps({"type": "chat", "room": f"room-{t}", "user": f"user-{i % 5}", "text": f"hello number {i % 7} in the room", "ts": 1764375000 + i}).encode()
            s = time.monotonic()
            conn.request("POST", f"/v1/publish?topic=room-{t}", body=body, headers={"Content-Type": "application/json"})
            r = conn.getresponse(); r.read()
            assert r.status == 200, r.status
            lat.append(time.monotonic() - s)
    total = time.monotonic() - start
    lat.sort()
    def m():
        return H.parse_prometheus(H.admin_get(h.admin_port, "/metrics").body.decode())
    H.wait_until(lambda: H.prom_value(m(), "herald_zstd_dictionaries") == topics, 120, desc="all trained")
    trained_at = time.monotonic() - start
    print(f"{binary}: {topics*16} publishes in {total:.2f} s; latency p50 {lat[len(lat)//2]*1e3:.2f} ms, p99 {lat[int(len(lat)*0.99)]*1e3:.2f} ms, max {lat[-1]*1e3:.1f} ms; all {topics} dictionaries after {trained_at:.2f} s")
finally:
    h.stop()
