"""More WebSocket connections than the per-process fd limit.

herald runs with RLIMIT_NOFILE = 20000 (soft and hard) and must hold
N = $HERALD_E2E_CONNECTIONS (default 30000) open WebSockets at once. The
clients are spread over >= 3 processes (<= 12000 sockets each, each from its
own source address 127.0.0.(10+i)) so no client process nears its own limit.
"""

from __future__ import annotations

import json
import math
import os
import queue
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import herald_e2e as H

pytestmark = pytest.mark.capacity

SERVER_NOFILE = 20000
PER_WORKER_MAX = 12000
SAMPLE_TOTAL = 100
WORKER = Path(__file__).resolve().parent / "capacity_worker.py"


class Worker:
    def __init__(self, index: int, port: int, count: int, sample: int):
        self.index = index
        self.count = count
        self.proc = subprocess.Popen(
            [sys.executable, str(WORKER), "--port", str(port), "--count", str(count),
             "--source", f"127.0.0.{10 + index}", "--concurrency", "500", "--sample", str(sample)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=H.clean_env())
        self.lines: queue.Queue = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines.put), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr.append), daemon=True).start()

    @staticmethod
    def _pump(pipe, sink) -> None:
        try:
            for line in pipe:
                sink(line)
        except (ValueError, OSError):
            pass

    def event(self, name: str, timeout: float) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"worker {self.index}: no {name!r} within {timeout}s; "
                                     f"stderr: {''.join(self.stderr)[-2000:]}")
            try:
                line = self.lines.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                if self.proc.poll() is not None and self.lines.empty():
                    raise AssertionError(f"worker {self.index} exited ({self.proc.returncode}) before {name!r}; "
                                         f"stderr: {''.join(self.stderr)[-2000:]}") from None
                continue
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            if msg.get("event") == name:
                return msg
            if msg.get("event") == "progress":
                print(f"worker {self.index}: {msg}")

    def command(self, cmd: str) -> None:
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass


def server_nofile(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
            if line.startswith("Max open files"):
                return int(line.split()[3])
    except (OSError, ValueError, IndexError):
        return None
    return None


@pytest.mark.e2e_timeout(600)
def test_more_connections_than_fd_limit(start_herald):
    n = int(os.environ.get("HERALD_E2E_CONNECTIONS", "30000"))
    workers_n = max(3, math.ceil(n / 10000))
    per = [n // workers_n + (1 if i < n % workers_n else 0) for i in range(workers_n)]
    assert max(per) <= PER_WORKER_MAX

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < max(per) + 64:
        pytest.fail(f"hard RLIMIT_NOFILE {hard} is below the {max(per) + 64} sockets one client process needs")

    server_limit = SERVER_NOFILE
    if hard != resource.RLIM_INFINITY:
        server_limit = min(server_limit, hard)
    h = start_herald("--connections-max", str(max(40000, n + 100)), "--shards", "2",
                     "--listen", "127.0.0.1:0", "--handshake-timeout", "30",
                     "--ping-interval", "600", "--pong-timeout", "60",
                     rlimit_nofile=server_limit)
    limit = server_nofile(h.proc.pid)
    print(f"herald fd limit: {limit}, connections to open: {n}, workers: {per}")
    if limit is not None and n <= limit:
        print("NOTE: N does not exceed the server's fd limit; this run is a smoke test, not the proof")

    sample_per = math.ceil(SAMPLE_TOTAL / workers_n)
    workers = [Worker(i, h.port, c, sample_per) for i, c in enumerate(per)]
    try:
        t0 = time.monotonic()
        opened = []
        for w in workers:
            o = w.event("opened", 300)
            opened.append(o)
            if o["failed"]:  # fail fast: do not wait for the others
                break
        elapsed = time.monotonic() - t0
        total_ok = sum(o["ok"] for o in opened)
        errors = [e for o in opened for e in o.get("errors", [])]
        assert len(opened) == len(workers) and total_ok == n and all(o["failed"] == 0 for o in opened), (
            f"{total_ok}/{n} handshakes got 101 (reported by {len(opened)}/{len(workers)} workers) "
            f"in {elapsed:.1f}s; herald alive: {h.alive()}; first errors: {errors[:10]}")
        print(f"opened {n} WebSockets in {elapsed:.1f}s")

        assert h.alive(), "herald died while connections were opening"
        s = H.wait_stat(h.admin_port, lambda s: s["connections"] >= n, timeout=30, desc=f"connections >= {n}")
        assert s["connections_total"] >= n
        assert sum(x["connections"] for x in s["shards"]) == s["connections"], s["shards"]
        assert len(s["shards"]) == 2 and all(x["connections"] > 0 for x in s["shards"]), (
            f"connections not spread over both shards: {s['shards']}")
        if limit is not None:
            fds = len(os.listdir(f"/proc/{h.proc.pid}/fd"))
            print(f"herald holds {s['connections']} connections with {fds} open fds (limit {limit})")
            assert fds <= limit

        for w in workers:
            w.command("ping")
        pinged = [w.event("pinged", 60) for w in workers]
        bad = [e for p in pinged for e in p["errors"]]
        assert sum(p["ok"] for p in pinged) >= SAMPLE_TOTAL and not bad, f"sampled pings failed: {bad[:10]}"

        for w in workers:
            w.command("close")
        for w in workers:
            w.event("closed", 60)
            w.proc.wait(30)
        H.wait_stat(h.admin_port, lambda s: s["connections"] == 0, timeout=30, desc="connections back to 0")
        assert h.alive()
        with H.RawWS.open(h.port, "/ws") as ws:  # and it still serves
            ws.send_json({"type": "ping"})
            assert ws.recv_json() == {"type": "pong"}
    finally:
        for w in workers:
            w.kill()
