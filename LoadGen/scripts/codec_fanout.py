#!/usr/bin/env python3
"""Server CPU per publish and per delivery with each codec (issue 11; a
measurement for Docs/BENCHMARKS.md, not a test). For each codec a fresh
herald, N herald-loadgen subscribers of one topic asking for it
(`--codec plain|deflate|zstd`; the load generator decodes every message
and checks every seq), M chat-application events (`--chat`, ~220 B) at R
per second. For zstd the topic's dictionary is trained first from 500
earlier events of the same stream, as `--zstd-train-after` would.

The server's CPU over the publish phase (the report's end minus the end of
the ramp) divided by the publishes and by the deliveries, and the payload
bytes a subscriber received per message.

    LoadGen/scripts/codec_fanout.py HERALD LOADGEN [N] [M] [R] [ROUNDS]
"""
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Tests" / "e2e"))
import herald_e2e as H  # noqa: E402

USERS = ["alice", "bob", "carol", "dave", "erin"]
TEXTS = ["on my way", "sounds good to me", "can we move the meeting to 3pm?", "lol", "see you tomorrow"]


def chat_event(i: int) -> dict:
    """The load generator's --chat body (MessageFields.body), without its timestamp fields."""
    return {"event": "message.created", "room": "general", "user": {"id": 1000 + i % 5, "name": USERS[i % 5]},
            "text": TEXTS[(i * 7) % 5], "ts": 1764300000 + i * 13, "reactions": [], "edited": False}


def run(herald: str, loadgen: str, codec: str, count: int, messages: int, rate: int) -> dict:
    h = H.HeraldProcess([herald, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--history-size", "500"],
                        H.clean_env()).wait_ready()
    try:
        if codec == "zstd":
            for i in range(500):
                # The load generator's layout: compact, "i" and "t" (a monotonic ns clock) first.
                body = {"i": i, "t": time.monotonic_ns(), **chat_event(i)}
                r = H.admin_request(h.admin_port, "POST", "/v1/publish?topic=t0",
                                    body=json.dumps(body, separators=(",", ":")).encode(),
                                    content_type="application/json")
                assert r.status == 200, r.body
            trained = H.admin_request(h.admin_port, "POST", "/v1/topics/t0/dictionary")
            assert trained.status == 200, trained.body
        out = Path(tempfile.mkdtemp()) / "report.json"
        command = [loadgen, "fanout", "--targets", f"127.0.0.1:{h.port}",
                   "--pub-url", f"http://127.0.0.1:{h.admin_port}/v1/publish?topic={{topic}}",
                   "--connections", str(count), "--messages", str(messages), "--publish-rate", str(rate),
                   "--chat", "--codec", codec, "--duration", "30", "--server-pid", str(h.proc.pid), "--json", str(out), "--quiet"]
        subprocess.run(command, check=False, capture_output=True, timeout=600)
        report = json.loads(out.read_text())
        assert report["succeeded"] and report["errors_total"] == 0, report
        server = report["server"]
        total = server["cpu_user_seconds"] + server["cpu_system_seconds"]
        ramp = server["ramp_cpu_user_seconds"] + server["ramp_cpu_system_seconds"]
        publish_phase = total - ramp
        deliveries = report["deliveries"]
        return {"codec": codec, "deliveries": deliveries, "cpu_s": publish_phase,
                "us_per_delivery": publish_phase / deliveries * 1e6,
                "us_per_publish": publish_phase / report["messages_published"] * 1e6,
                "bytes_per_message": report["payload_bytes_received"] / deliveries,
                "dictionary_bytes": report["zstd_dictionary_bytes_received"],
                "decoded_per_message": report["payload_bytes_decoded"] / deliveries,
                "dictionaries": report["zstd_dictionaries_received"]}
    finally:
        h.kill()


def main() -> None:
    herald, loadgen = sys.argv[1], sys.argv[2]
    count, messages, rate, rounds = (int(sys.argv[i]) if len(sys.argv) > i else d
                                     for i, d in ((3, 10_000), (4, 250), (5, 25), (6, 2)))
    for round_ in range(rounds):
        for codec in ("plain", "deflate", "zstd"):
            r = run(herald, loadgen, codec, count, messages, rate)
            print(f"round {round_ + 1} {codec:7}: {r['deliveries']} deliveries, server CPU {r['cpu_s']:.2f} s = "
                  f"{r['us_per_delivery']:.2f} us per delivery, {r['us_per_publish']:.0f} us per publish; "
                  f"{r['bytes_per_message']:.1f} B per message on the wire ({r['decoded_per_message']:.1f} decoded), "
                  f"{r['dictionaries']} dictionaries received ({r['dictionary_bytes']} B, not in the per-message figure)", flush=True)


if __name__ == "__main__":
    main()
