#!/usr/bin/env python3
"""Server memory with history on: TOPICS topics × ROUNDS publishes each.

    LoadGen/scripts/history_memory.py HERALD_BINARY [TOPICS] [ROUNDS] [PAYLOAD_BYTES] [herald flags...]

Publishes with the JSON form (one request sends the same data to 1,000
topics), then prints the server's RSS before and after, and what
/metrics says is kept. A measurement for Docs/BENCHMARKS.md, not a test.
"""
import http.client
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Tests" / "e2e"))
import herald_e2e as H  # noqa: E402
from test_hostile_clients import rss_bytes  # noqa: E402


def main() -> None:
    binary = sys.argv[1]
    topics = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 16
    payload = int(sys.argv[4]) if len(sys.argv) > 4 else 200
    extra = sys.argv[5:]
    h = H.HeraldProcess([binary, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                         "--topics-max", str(max(topics, 1_000_000)), *extra], H.clean_env()).wait_ready()
    try:
        time.sleep(0.5)
        start = rss_bytes(h.proc.pid)
        connection = http.client.HTTPConnection("127.0.0.1", h.admin_port, timeout=60)
        data = json.dumps({"pad": "x" * payload})
        began = time.monotonic()
        for _ in range(rounds):
            for first in range(0, topics, 1000):
                names = [f"topic-{n}" for n in range(first, min(topics, first + 1000))]
                body = json.dumps({"topics": names, "data": json.loads(data)})
                connection.request("POST", "/v1/publish", body=body, headers={"Content-Type": "application/json"})
                response = connection.getresponse()
                response.read()
                assert response.status == 200, response.status
        seconds = time.monotonic() - began
        time.sleep(6)  # idle shards give freed pages back within 5 s
        end = rss_bytes(h.proc.pid)
        samples = H.parse_prometheus(H.admin_get(h.admin_port, "/metrics").body.decode())
        kept = H.prom_value(samples, "herald_history_messages") or 0
        kept_bytes = H.prom_value(samples, "herald_history_bytes") or 0
        evicted = H.prom_value(samples, "herald_history_evicted_total") or 0
        print(f"{topics} topics x {rounds} publishes of {payload} B data in {seconds:.1f} s; flags {extra}")
        print(f"  server RSS {start / 2**20:.1f} -> {end / 2**20:.1f} MiB (+{(end - start) / 2**20:.1f} MiB)")
        print(f"  kept {int(kept)} messages, {kept_bytes / 2**20:.1f} MiB accounted, {int(evicted)} evicted;"
              f" RSS per kept message {((end - start) / max(1, kept)):.0f} B (topic records included)")
    finally:
        h.kill()


if __name__ == "__main__":
    main()
