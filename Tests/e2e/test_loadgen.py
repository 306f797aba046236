"""herald-loadgen against the real herald: a short fanout run must reach every
connection, deliver every message, exit 0 and write its JSON report (issue #4).
"""
import json
import os
import subprocess
from pathlib import Path

import pytest

import herald_e2e as H

ROOT = Path(__file__).resolve().parents[2]


def loadgen_binary() -> Path:
    explicit = os.environ.get("HERALD_LOADGEN_BIN")
    candidates = [Path(explicit)] if explicit else []
    candidates += [ROOT / ".build/release/herald-loadgen", ROOT / ".build/debug/herald-loadgen"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise AssertionError("herald-loadgen not built (swift build -c release --product herald-loadgen)")


def run_loadgen(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(loadgen_binary()), *args], capture_output=True, text=True, timeout=timeout)


def test_fanout_short_run_delivers_everything(start_herald, tmp_path):
    herald = start_herald("--shards", "2")
    report = tmp_path / "fanout.json"
    result = run_loadgen(
        "fanout", "--targets", f"127.0.0.1:{herald.port}",
        "--pub-url", f"http://127.0.0.1:{herald.admin_port}/v1/publish?topic={{topic}}",
        "--connections", "200", "--topics", "4", "--messages", "50", "--rate", "1000",
        "--publish-rate", "100", "--duration", "10", "--server-pid", str(herald.proc.pid),
        "--json", str(report), "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(report.read_text())
    assert data["connections_reached"] == 200
    assert data["messages_published"] == 50 and data["publish_failures"] == 0
    # 4 topics round-robin: each message reaches the 50 subscribers of its topic.
    assert data["deliveries"] == data["deliveries_expected"] == 50 * 50
    assert data["deliveries_missing"] == 0 and data["errors_total"] == 0
    latency = data["latency"]
    assert latency["count"] == 2500
    assert 0 < latency["p50_us"] <= latency["p99_us"] <= latency["max_us"]
    assert data["server"]["rss_end_bytes"] > 0
    stats = H.get_stats(herald.admin_port)
    assert stats["messages_published_total"] == 50
    assert stats["messages_delivered_total"] == 2500


def test_missing_deliveries_fail_the_run(start_herald, tmp_path):
    # Publishing to a port where nothing listens: every publish fails, so
    # the run must exit non-zero (and still write its report).
    herald = start_herald()
    report = tmp_path / "fail.json"
    result = run_loadgen(
        "fanout", "--targets", f"127.0.0.1:{herald.port}",
        "--pub-url", "http://127.0.0.1:9/v1/publish?topic={topic}",
        "--connections", "10", "--messages", "3", "--publish-rate", "50", "--duration", "2",
        "--json", str(report), "--quiet")
    assert result.returncode == 1, result.stdout + result.stderr
    assert json.loads(report.read_text())["succeeded"] is False


def test_bad_arguments_exit_2():
    result = run_loadgen("fanout", "--connections", "lots")
    assert result.returncode == 2
    assert "connections" in (result.stdout + result.stderr)


def test_help_documents_every_scenario():
    result = run_loadgen("--help")
    assert result.returncode == 0
    for word in ("hold", "fanout", "churn", "slow", "--targets", "--rate", "--json", "--server-pid"):
        assert word in result.stdout, word
