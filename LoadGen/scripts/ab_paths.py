#!/usr/bin/env python3
"""Two herald builds side by side on the connect and publish paths (issue
12; a measurement for Docs/BENCHMARKS.md, not a test).

This VM's speed drifts by ±20 % within an hour and a single run of either
path spreads by ±4 µs, so one run of each build proves nothing. This
alternates the builds round by round (A B, then B A, so a drift favours
neither) and prints every run with the median and range per build:

- connect: one shard, 15,000 connections at 10,000/s (the rate where
  every handshake runs cold); server CPU per connection over the ramp,
  user + system (the kernel splits the two by sampling ticks, so only the
  sum is worth comparing);
- single: 100,000 publishes to 1,000 one-subscriber topics, 4 publishers
  × 8 pipelined; server CPU per publish, delivery included;
- batch: the same in batches of 100, 300,000 messages.

For the publish paths each run also prints each thread kind's user and
system CPU per message (`herald-admin user`, `herald-shard system`, …):
the admin thread's user time moves least from run to run here, so it
shows a cut in the admin thread's work that the total's spread hides.

A run that reports an error, a missing delivery or a seq defect stops the
script: a figure from a broken run is not a figure.

    LoadGen/scripts/ab_paths.py HERALD_A HERALD_B LOADGEN [ROUNDS] [connect,single,batch]
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


# Herald's working threads (Docs/ARCHITECTURE.md "Threads"); the main
# thread only waits for signals.
WORKER_THREADS = ("herald-admin", "herald-shard", "herald-broker", "herald-train")


def thread_cpu(pid: int) -> dict[str, float]:
    """User and system CPU seconds of each of herald's thread kinds (by
    name: herald-admin, herald-shard-…), summed, read from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    totals: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the thread ended meanwhile
        kind = name.rstrip("0123456789").rstrip("-")
        # Fields 14 and 15 of stat (utime, stime), counted after the ")".
        totals[f"{kind} user"] = totals.get(f"{kind} user", 0) + int(fields[11]) / ticks
        totals[f"{kind} system"] = totals.get(f"{kind} system", 0) + int(fields[12]) / ticks
    return totals


def run(herald: str, loadgen: str, path: str) -> tuple[float, dict[str, float]]:
    """Server CPU in µs per connection (connect) or per publish (single,
    batch), and per thread kind (µs per publish, whole run: the admin
    thread's user time moves least from run to run on this VM)."""
    argv = [herald, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"]
    if path == "connect":
        argv += ["--shards", "1", "--ping-interval", "300"]
    h = H.HeraldProcess(argv, H.clean_env()).wait_ready()
    try:
        out = Path(tempfile.mkdtemp()) / "report.json"
        target = ["--targets", f"127.0.0.1:{h.port}", "--server-pid", str(h.proc.pid), "--json", str(out), "--quiet"]
        if path == "connect":
            command = [loadgen, "hold", "--connections", "15000", "--rate", "10000", "--duration", "1"] + target
        else:
            command = [loadgen, "publish", "--connections", "1000", "--topics", "1000",
                       "--pub-url", f"http://127.0.0.1:{h.admin_port}/v1/publish?topic={{topic}}"] + target
            command += ["--messages", "100000"] if path == "single" else ["--batch", "100", "--messages", "300000"]
        subprocess.run(command, check=False, capture_output=True, timeout=600)
        threads = thread_cpu(h.proc.pid)
        report = json.loads(out.read_text())
        server = report["server"]
        if path == "connect":
            reached = report["connections_reached"]
            if report["errors_total"] != 0 or reached != 15000:
                sys.exit(f"{herald}: connect run failed: {reached} reached, {report['errors_total']} errors")
            ramp = server["ramp_cpu_user_seconds"] + server["ramp_cpu_system_seconds"]
            return ramp * 1e6 / reached, {}
        if (not report["succeeded"] or report["errors_total"] != 0 or report["seq_defects"] != 0
                or report["deliveries_missing"] != 0):
            sys.exit(f"{herald}: {path} run failed: {json.dumps({k: report.get(k) for k in ('errors_total', 'seq_defects', 'deliveries_missing')})}")
        messages = 100000 if path == "single" else 300000
        return report["server_cpu_us_per_publish"], {kind: seconds * 1e6 / messages for kind, seconds in threads.items()
                                                     if kind.split()[0] in WORKER_THREADS}
    finally:
        h.stop()


def main() -> None:
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    builds = {"A": sys.argv[1], "B": sys.argv[2]}
    loadgen = sys.argv[3]
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 4
    paths = sys.argv[5].split(",") if len(sys.argv) > 5 else ["connect", "single", "batch"]
    for path in paths:
        if path not in ("connect", "single", "batch"):
            sys.exit(f"unknown path {path}: connect, single or batch")
    print(f"A = {builds['A']}\nB = {builds['B']}")
    figures: dict[tuple[str, str], list[float]] = {}
    for round_number in range(rounds):
        order = ["A", "B"] if round_number % 2 == 0 else ["B", "A"]
        for path in paths:
            for build in order:
                value, threads = run(builds[build], loadgen, path)
                figures.setdefault((path, build), []).append(value)
                for kind, microseconds in threads.items():
                    figures.setdefault((path, build, kind), []).append(microseconds)
                detail = ", ".join(f"{kind} {microseconds:.2f}" for kind, microseconds in sorted(threads.items()))
                print(f"round {round_number + 1} {path:7} {build} {value:6.1f} µs" + (f" ({detail})" if detail else ""),
                      flush=True)
    unit = {"connect": "per connection", "single": "per publish", "batch": "per message"}
    for path in paths:
        for build in ("A", "B"):
            values = figures[(path, build)]
            print(f"{path:7} {build}: median {statistics.median(values):5.1f} µs {unit[path]}, "
                  f"{min(values):.1f}–{max(values):.1f} over {len(values)} runs")
            for key in sorted(k for k in figures if len(k) == 3 and k[0] == path and k[1] == build):
                print(f"          {key[2]}: median {statistics.median(figures[key]):.2f} µs {unit[path]}")


if __name__ == "__main__":
    main()
