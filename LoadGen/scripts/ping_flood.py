#!/usr/bin/env python3
"""Peak server RSS while one client floods pings and never reads.

    LoadGen/scripts/ping_flood.py HERALD_BINARY [control|json] [PINGS] [herald flags...]

Starts the binary on loopback, opens one WebSocket with a 4 KiB receive
buffer that it never reads, sends PINGS ping frames (control pings, or
`{"type":"ping"}` text messages) as fast as the server takes them (at most
60 s), and prints the server's RSS before, at its peak, and 10 s after the
flood. A measurement for Docs/BENCHMARKS.md, not a test.
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Tests" / "e2e"))
import herald_e2e as H  # noqa: E402
from test_hostile_clients import PeakRSS, flood, rss_bytes, stuck_client  # noqa: E402


def main() -> None:
    binary = sys.argv[1]
    kind = sys.argv[2] if len(sys.argv) > 2 else "control"
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
    extra = sys.argv[4:]
    argv = [binary, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--shards", "1", *extra]
    h = H.HeraldProcess(argv, H.clean_env()).wait_ready()
    try:
        time.sleep(0.5)
        start = rss_bytes(h.proc.pid)
        sampler = PeakRSS(h.proc.pid)
        sock = stuck_client(h.port, "/ws")
        frame = H.build_frame(H.OP_PING, b"") if kind == "control" else H.build_frame(H.OP_TEXT, b'{"type":"ping"}')
        began = time.monotonic()
        sent = flood(sock, frame, count, 60)
        seconds = time.monotonic() - began
        time.sleep(1)
        peak = sampler.stop()
        sock.close()
        time.sleep(10)
        after = rss_bytes(h.proc.pid)
        print(f"{kind} pings sent: {sent} of {count} in {seconds:.1f} s; server RSS start {start / 2**20:.1f} MiB, "
              f"peak {peak / 2**20:.1f} MiB, 10 s after the client left {after / 2**20:.1f} MiB")
    finally:
        h.kill()


if __name__ == "__main__":
    main()
