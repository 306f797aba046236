#!/usr/bin/env python3
"""Multi-node measurements for Docs/BENCHMARKS.md (not a test): real
redis-server(s) and herald nodes on loopback, driven by herald-loadgen,
with every process's CPU read from /proc around the run.

    LoadGen/scripts/bench_cluster.py publish [--redis N] [--batch B] [--messages M] [--single-node]
    LoadGen/scripts/bench_cluster.py fanout  [--connections C] [--messages M] [--rate R] [--single-node]

publish: 1,000 one-subscriber topics; the subscribers on node b, the
publishes sent to node a's admin API (so every message crosses Redis to
another node). fanout: C subscribers of one topic split over nodes a and b
(one over both with --single-node), published through node a.
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "e2e"))
import herald_e2e as H  # noqa: E402
from redis_e2e import RedisServer  # noqa: E402




def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=["publish", "fanout"])
    parser.add_argument("--redis", type=int, default=1)
    parser.add_argument("--batch", type=int, default=0)
    parser.add_argument("--messages", type=int, default=0)
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--single-node", action="store_true")
    args = parser.parse_args()
    herald = str(ROOT / ".build/release/herald")
    loadgen = str(ROOT / ".build/release/herald-loadgen")

    servers = [] if args.single_node else [RedisServer().start() for _ in range(args.redis)]
    flags = [f for server in servers for f in ("--redis", server.url)]
    nodes = []
    for _ in range(1 if args.single_node else 2):
        nodes.append(H.HeraldProcess([herald, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
                                      "--connections-max", "200000", *flags], H.clean_env()).wait_ready())
    a, b = nodes[0], nodes[-1]
    out = Path(tempfile.mkdtemp()) / "report.json"
    if args.scenario == "publish":
        messages = args.messages or (200_000 if args.batch else 100_000)
        command = [loadgen, "publish", "--connections", "1000", "--topics", "1000", "--messages", str(messages),
                   "--targets", f"127.0.0.1:{b.port}",
                   "--pub-url", f"http://127.0.0.1:{a.admin_port}/v1/publish?topic={{topic}}",
                   "--server-pid", str(a.proc.pid), "--quiet", "--json", str(out)]
        if args.batch:
            command += ["--batch", str(args.batch)]
    else:
        messages = args.messages or 500
        targets = ",".join(f"127.0.0.1:{n.port}" for n in nodes)
        command = [loadgen, "fanout", "--connections", str(args.connections), "--topics", "1",
                   "--messages", str(messages), "--publish-rate", str(args.rate), "--targets", targets,
                   "--pub-url", f"http://127.0.0.1:{a.admin_port}/v1/publish?topic={{topic}}",
                   "--threads", "2", "--server-pid", str(a.proc.pid), "--quiet", "--json", str(out)]
    pids = {"node a": a.proc.pid}
    if b is not a:
        pids["node b"] = b.proc.pid
    for index, server in enumerate(servers):
        pids[f"redis {index}"] = server.proc.pid
    before = {name: H.process_cpu_seconds(pid) for name, pid in pids.items()}
    started = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    after = {name: H.process_cpu_seconds(pid) for name, pid in pids.items()}
    try:
        report = json.loads(out.read_text())
    except (OSError, ValueError):
        print(result.stdout[-3000:], result.stderr[-3000:])
        raise
    print("command:", " ".join(command))
    print(result.stdout[-2500:])
    deliveries = report.get("deliveries") or report.get("delivered") or messages
    print(f"whole run {elapsed:.1f} s; CPU seconds over it (ramp included):")
    for name in pids:
        spent = after[name] - before[name]
        print(f"  {name}: {spent:.2f} s = {spent / messages * 1e6:.1f} µs per publish")
    print("exit", result.returncode)
    for node in nodes:
        node.kill()
    for server in servers:
        server.kill()


if __name__ == "__main__":
    main()
