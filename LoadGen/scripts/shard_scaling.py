#!/usr/bin/env python3
"""Publishes/s with one shard and with two (issue 12: "publishes/s with 2
shards at least 1.8x the 1-shard figure"; a measurement for
Docs/BENCHMARKS.md, not a test).

Each configuration publishes as fast as the server answers, to 1,000
one-subscriber topics, from 8 keep-alive connections × 8 pipelined (enough
connections that SO_REUSEPORT spreads them over two shards' admin
listeners), singly and in batches of 100. The configurations:

- `--shards 1 --admin-threads 0` against `--shards 2 --admin-threads 0`:
  each shard serves the admin API itself;
- `--shards 1 --admin-threads 1` against `--shards 2 --admin-threads 2`:
  one admin thread per shard.

Rounds alternate the order (1 then 2 shards, then 2 then 1) so a drift in
the machine's speed favours neither. Every run prints publishes/s, server
CPU per publish and the machine's cores; the summary gives each pair's
ratio of median publishes/s.

The ratio only means something when the server's threads and the load
generator each have cores of their own: 1.8x the publishes takes 1.8x the
server's CPU, and the load generator needs about as much again. Below
4 cores the script says so and still runs (to show the runs work).

A run that reports an error, a missing delivery or a seq defect stops the
script: a figure from a broken run is not a figure.

    LoadGen/scripts/shard_scaling.py HERALD LOADGEN [ROUNDS] [single,batch]
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Tests" / "e2e"))
import herald_e2e as H  # noqa: E402

PAIRS = [
    ("admin API on the shards", ["--shards", "1", "--admin-threads", "0"], ["--shards", "2", "--admin-threads", "0"]),
    ("an admin thread per shard", ["--shards", "1", "--admin-threads", "1"], ["--shards", "2", "--admin-threads", "2"]),
]
MESSAGES = {"single": 200_000, "batch": 600_000}


def run(herald: str, loadgen: str, flags: list[str], path: str) -> tuple[float, float]:
    """Publishes/s and server CPU in µs per publish, delivery included."""
    argv = [herald, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"] + flags
    h = H.HeraldProcess(argv, H.clean_env()).wait_ready()
    try:
        out = Path(tempfile.mkdtemp()) / "report.json"
        command = [loadgen, "publish", "--targets", f"127.0.0.1:{h.port}", "--connections", "1000",
                   "--topics", "1000", "--publishers", "8", "--pipeline", "8",
                   "--pub-url", f"http://127.0.0.1:{h.admin_port}/v1/publish?topic={{topic}}",
                   "--messages", str(MESSAGES[path]), "--server-pid", str(h.proc.pid), "--json", str(out), "--quiet"]
        if path == "batch":
            command += ["--batch", "100"]
        subprocess.run(command, check=False, capture_output=True, timeout=900)
        report = json.loads(out.read_text())
        if (not report["succeeded"] or report["errors_total"] != 0 or report["seq_defects"] != 0
                or report["deliveries_missing"] != 0):
            fields = {k: report.get(k) for k in ("errors_total", "seq_defects", "deliveries_missing")}
            sys.exit(f"{' '.join(flags)}: {path} run failed: {json.dumps(fields)}")
        return report["publishing"]["publishes_per_second"], report["server_cpu_us_per_publish"]
    finally:
        h.stop()


def main() -> None:
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    herald, loadgen = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    paths = sys.argv[4].split(",") if len(sys.argv) > 4 else ["single", "batch"]
    for path in paths:
        if path not in MESSAGES:
            sys.exit(f"unknown path {path}: single or batch")
    cores = os.cpu_count() or 1
    print(f"herald = {herald}\ncores = {cores}")
    if cores < 4:
        print(f"note: {cores} cores — the load generator shares them with the server, so the ratio below "
              "measures this machine, not herald's scaling")
    rates: dict[tuple[str, str, int], list[float]] = {}
    for round_number in range(rounds):
        for path in paths:
            for name, one, two in PAIRS:
                order = [(1, one), (2, two)] if round_number % 2 == 0 else [(2, two), (1, one)]
                for shards, flags in order:
                    rate, cpu = run(herald, loadgen, flags, path)
                    rates.setdefault((path, name, shards), []).append(rate)
                    print(f"round {round_number + 1} {path:6} {' '.join(flags):32} {rate:9.0f} publishes/s "
                          f"{cpu:5.2f} µs per publish", flush=True)
    for path in paths:
        for name, _, _ in PAIRS:
            one = statistics.median(rates[(path, name, 1)])
            two = statistics.median(rates[(path, name, 2)])
            print(f"{path:6} {name}: 1 shard {one:.0f}/s, 2 shards {two:.0f}/s (medians), ratio {two / one:.2f}")


if __name__ == "__main__":
    main()
