#!/usr/bin/env python3
"""Server memory per idle connection, plain and TLS (a measurement for
Docs/BENCHMARKS.md, not a test): opens N WebSocket connections subscribed
to one topic, waits, and prints the server's RSS delta per connection and
its CPU per connection: plain, TLS with OpenSSL's record layer kept, TLS
with herald's own (`--tls-record-layer`).

    LoadGen/scripts/tls_memory.py HERALD_BINARY [N]
"""
import asyncio
import ssl
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Tests" / "e2e"))
import herald_e2e as H  # noqa: E402
from test_tls import make_certificate  # noqa: E402
from test_hostile_clients import rss_bytes  # noqa: E402



async def hold(port: int, count: int, context) -> list:
    scheme = "wss" if context else "ws"
    writers = []
    for _ in range(count):
        if context:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname="localhost")
        else:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(H.upgrade_request("/ws?topics=idle", f"127.0.0.1:{port}", H.make_key()))
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")
        writers.append(writer)
    return writers


def measure(binary: str, count: int, tls: tuple[str, str] | None, record_layer: str = "herald") -> None:
    args = [binary, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--shards", "1"]
    context = None
    if tls:
        args += ["--tls-cert", tls[0], "--tls-key", tls[1], "--tls-record-layer", record_layer]
        context = ssl.create_default_context(cafile=tls[0])
    h = H.HeraldProcess(args, H.clean_env()).wait_ready()
    try:
        time.sleep(0.5)
        before = rss_bytes(h.proc.pid)
        cpu_before = H.process_cpu_seconds(h.proc.pid)
        started = time.monotonic()
        loop = asyncio.new_event_loop()
        writers = loop.run_until_complete(hold(h.port, count, context))
        elapsed = time.monotonic() - started
        cpu = H.process_cpu_seconds(h.proc.pid) - cpu_before
        time.sleep(2)
        after = rss_bytes(h.proc.pid)
        kind = f"TLS (record layer: {record_layer})" if tls else "plain"
        print(f"{kind}: {count} connections, server RSS {before / 2**20:.1f} -> {after / 2**20:.1f} MiB: "
              f"{(after - before) / count:.0f} B per connection; server CPU {cpu / count * 1e6:.0f} us per "
              f"connection (handshakes, upgrade, subscribe); {count / elapsed:.0f} connections/s from one Python client")
        for writer in writers:
            writer.close()
        loop.close()
    finally:
        h.kill()


def main() -> None:
    binary = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    cert, key = (Path(path) for path in make_certificate(Path(tempfile.mkdtemp())))
    measure(binary, count, None)
    measure(binary, count, (str(cert), str(key)), "openssl")
    measure(binary, count, (str(cert), str(key)), "herald")


if __name__ == "__main__":
    main()
