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


@pytest.mark.parametrize("codec", ["deflate", "zstd"])
def test_fanout_with_a_codec_decodes_and_checks_every_message(start_herald, tmp_path, codec):
    # --codec: the subscribers ask for permessage-deflate or herald.zstd.v1
    # and decode every message before its seq is checked; zstd with the
    # dictionary trained at each topic's 16th message (--zstd-train-after),
    # which each subscriber receives once.
    herald = start_herald("--history-size", "100", "--zstd-train-after", "16")
    report = tmp_path / "codec.json"
    result = run_loadgen(
        "fanout", "--targets", f"127.0.0.1:{herald.port}",
        "--pub-url", f"http://127.0.0.1:{herald.admin_port}/v1/publish?topic={{topic}}",
        "--connections", "100", "--topics", "2", "--messages", "160", "--publish-rate", "200",
        "--chat", "--codec", codec, "--json", str(report), "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(report.read_text())
    assert data["codec"] == codec and data["errors_total"] == 0
    assert data["deliveries"] == data["deliveries_expected"] == 160 * 50
    assert data["payload_bytes_received"] < data["payload_bytes_decoded"], data
    if codec == "zstd":
        # Two topics, each trained at its 16th message: every subscriber got its topic's.
        assert data["zstd_dictionaries_received"] == 100
        assert data["payload_bytes_received"] < data["payload_bytes_decoded"] / 2, data
    else:
        assert data["zstd_dictionaries_received"] == 0


def test_a_codec_the_server_does_not_agree_to_fails_the_run(start_herald, tmp_path):
    # /ws answers herald.zstd.v1; --sub-message subscribes on /echo, which
    # never does: the run fails instead of measuring plain frames as zstd.
    herald = start_herald("--enable-echo")
    report = tmp_path / "refused.json"
    result = run_loadgen(
        "hold", "--targets", f"127.0.0.1:{herald.port}", "--sub-url", f"ws://127.0.0.1:{herald.port}/echo",
        "--sub-message", '{"type":"ping"}', "--connections", "5", "--duration", "1", "--codec", "zstd",
        "--json", str(report), "--quiet")
    assert result.returncode != 0
    data = json.loads(report.read_text())
    assert data["errors"]["handshake_rejected"] == 5, data


def test_fanout_over_wss_delivers_everything(start_herald, tmp_path):
    """wss:// in the load generator (OpenSSL clients over memory BIOs on its
    io_uring loop): every connection a TLS 1.3 handshake handed over to
    herald's record layer, every message delivered and seq-checked, and a
    `--sub-message` subscribe and the pongs sent encrypted."""
    from test_tls import make_certificate
    cert, key = make_certificate(tmp_path)
    herald = start_herald("--shards", "2", "--tls-cert", cert, "--tls-key", key, "--ping-interval", "1")
    report = tmp_path / "fanout.json"
    result = run_loadgen(
        "fanout", "--targets", f"127.0.0.1:{herald.port}", "--sub-url", "wss://{host}/ws",
        "--sub-message", '{"type":"subscribe","topic":"{topic}"}',
        "--pub-url", f"http://127.0.0.1:{herald.admin_port}/v1/publish?topic={{topic}}",
        "--connections", "100", "--topics", "4", "--messages", "60", "--rate", "500",
        "--publish-rate", "20", "--duration", "10", "--json", str(report), "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(report.read_text())
    assert data["connections_reached"] == 100
    assert data["deliveries"] == data["deliveries_expected"] == 60 * 25
    assert data["deliveries_missing"] == 0 and data["errors_total"] == 0
    samples = H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode())
    assert H.prom_value(samples, "herald_tls_record_layer_handovers_total") == 100
    # 3 s of publishing, clients silent for over a second: pinged, and the pongs came back over TLS.
    assert H.prom_value(samples, "herald_pings_sent_total") > 0
    assert H.prom_value(samples, "herald_pong_timeouts_total") in (0, None)
    assert data["pings_answered"] > 0


def test_recover_drops_every_subscriber_and_each_gets_every_seq_once(start_herald, tmp_path):
    # --recover: after 100 of 300 publishes all 600 subscribers drop their
    # connection and reconnect at once with `since`. The history holds far
    # more than the run publishes, so however slow the machine, every
    # client must recover and end with every seq exactly once.
    herald = start_herald("--shards", "2", "--history-size", "1000")
    report = tmp_path / "recover.json"
    result = run_loadgen(
        "fanout", "--targets", f"127.0.0.1:{herald.port}",
        "--pub-url", f"http://127.0.0.1:{herald.admin_port}/v1/publish?topic={{topic}}",
        "--connections", "600", "--topics", "6", "--messages", "300", "--rate", "2000",
        "--publish-rate", "200", "--recover", "100", "--duration", "30", "--server-pid", str(herald.proc.pid),
        "--json", str(report), "--quiet", timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(report.read_text())
    recovery = data["recovery"]
    assert recovery["dropped"] == recovery["rejoined"] == recovery["recovered"] == 600, recovery
    assert recovery["refused"] == 0 and data["seq_defects"] == 0
    # 6 topics round-robin: each message reaches its topic's 100 subscribers, once.
    assert data["deliveries"] == data["deliveries_expected"] == 300 * 100
    assert recovery["per_client"]["count"] == 600 and recovery["server_cpu_seconds"] is not None
    samples = H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode())
    assert H.prom_value(samples, "herald_recoveries_total", result="recovered") == 600
    assert H.prom_value(samples, "herald_messages_replayed_total") == recovery["replayed"]


@pytest.mark.parametrize("batch", ["0", "50"])
def test_publish_scenario_many_small_topics(start_herald, tmp_path, batch):
    # 300 topics with one subscriber each, published unpaced over 3
    # pipelined connections, one message per request or 50 per batch.
    herald = start_herald("--shards", "2")
    report = tmp_path / "publish.json"
    result = run_loadgen(
        "publish", "--targets", f"127.0.0.1:{herald.port}",
        "--pub-url", f"http://127.0.0.1:{herald.admin_port}/v1/publish?topic={{topic}}",
        "--connections", "300", "--topics", "300", "--messages", "3000", "--rate", "2000",
        "--publishers", "3", "--pipeline", "4", "--batch", batch, "--duration", "30",
        "--server-pid", str(herald.proc.pid), "--json", str(report), "--quiet")
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(report.read_text())
    assert data["messages_published"] == 3000 and data["publish_failures"] == 0
    assert data["deliveries"] == data["deliveries_expected"] == 3000 and data["seq_defects"] == 0
    publishing = data["publishing"]
    assert publishing["requests"] == (3000 if batch == "0" else 60), publishing
    assert publishing["round_trip"]["count"] == publishing["requests"]
    assert data["server_cpu_us_per_publish"] > 0
    assert H.get_stats(herald.admin_port)["messages_published_total"] == 3000


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


@pytest.mark.e2e_timeout(120)
def test_slow_scenario_stuck_readers_never_cost_the_others_a_message(start_herald, tmp_path):
    # Issue 7 item 3, scaled for CI: 2,000 subscribers of one topic, 10 %
    # stuck. The readers get every message in seq order (checked per
    # connection by the load generator) while the stuck ones stall: each
    # received ~400 KB it never reads, far over what the socket buffers hold.
    herald = start_herald("--shards", "2", "--send-timeout", "2", "--socket-send-buffer-bytes", "8192")
    report = tmp_path / "slow.json"
    result = run_loadgen(
        "slow", "--targets", f"127.0.0.1:{herald.port}",
        "--pub-url", f"http://127.0.0.1:{herald.admin_port}/v1/publish?topic={{topic}}",
        "--connections", "2000", "--topics", "1", "--messages", "200", "--payload-bytes", "2000",
        "--slow-fraction", "0.1", "--rate", "2000", "--publish-rate", "100", "--duration", "15",
        "--server-pid", str(herald.proc.pid), "--json", str(report), "--quiet", timeout=110)
    data = json.loads(report.read_text())
    assert result.returncode == 0, result.stdout + result.stderr
    assert data["seq_defects"] == 0 and data["deliveries_above_expected"] == 0
    assert data["deliveries"] == data["deliveries_expected"] == 200 * 1800
    assert data["slow_connections"] == 200
    samples = H.parse_prometheus(H.admin_get(herald.admin_port, "/metrics").body.decode())
    assert H.prom_value(samples, "herald_send_waits_for_room_total") >= 200


def test_loadgen_reports_duplicates_gaps_and_reordering_as_errors(tmp_path):
    # A fake server that misbehaves on purpose: the load generator must
    # never hide a defect (issue 7 item 6).
    import asyncio
    import threading
    import http.server

    import websockets

    script = [1, 2, 2, 5, 4]  # a duplicate, a gap (3-4 skipped), a reordering (4 after 5)

    async def handler(ws):
        for position, seq in enumerate(script):
            index = seq - 1
            await ws.send(json.dumps({"type": "message", "topic": "t0", "seq": seq,
                                      "data": {"i": index, "t": 1}}))
        await asyncio.sleep(30)

    class Publish(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            body = b'{"topic":"t0","seq":1}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    http_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Publish)
    threading.Thread(target=http_server.serve_forever, daemon=True).start()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    ports = []

    def serve():
        asyncio.set_event_loop(loop)

        async def main():
            server = await websockets.serve(handler, "127.0.0.1", 0)
            ports.append(server.sockets[0].getsockname()[1])
            ready.set()
            await asyncio.sleep(60)

        try:
            loop.run_until_complete(main())
        except Exception:
            pass

    threading.Thread(target=serve, daemon=True).start()
    assert ready.wait(10)
    report = tmp_path / "defects.json"
    try:
        result = run_loadgen(
            "fanout", "--targets", f"127.0.0.1:{ports[0]}", "--sub-url", "ws://{host}/ws?topics={topic}",
            "--pub-url", f"http://127.0.0.1:{http_server.server_address[1]}/v1/publish?topic={{topic}}",
            "--connections", "1", "--messages", "5", "--publish-rate", "50", "--duration", "4",
            "--settle", "0.5", "--json", str(report), "--quiet", timeout=60)
    finally:
        http_server.shutdown()
    data = json.loads(report.read_text())
    assert result.returncode == 1, result.stdout
    assert data["errors"]["seq_duplicate"] == 1
    assert data["errors"]["seq_gap_unannounced"] == 2  # seqs 3 and 4 skipped at 5 (counted per message)
    assert data["errors"]["seq_reordered"] == 1
    assert data["deliveries_above_expected"] == 0 or data["deliveries"] > data["deliveries_expected"]
    assert data["succeeded"] is False
