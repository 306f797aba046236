#!/usr/bin/env python3
"""Server CPU per delivery with and without TLS (a measurement for
Docs/BENCHMARKS.md, not a test; herald-loadgen does not speak wss:// yet).
N Python subscribers of one topic (asyncio, reading raw bytes and counting
frames), M publishes at R per second; the server's CPU over the publish
phase divided by the deliveries.

    LoadGen/scripts/tls_fanout.py HERALD_BINARY [N] [M] [R] [PAYLOAD_BYTES]
"""
import asyncio
import json
import ssl
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Tests" / "e2e"))
import herald_e2e as H  # noqa: E402
from test_tls import make_certificate  # noqa: E402



async def subscriber(port: int, context, expected: int, done: list) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context,
                                                   server_hostname="localhost" if context else None)
    writer.write(H.upgrade_request("/ws?topics=fan", f"127.0.0.1:{port}", H.make_key()))
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")
    buffer = b""
    frames = 0
    while frames < expected:
        chunk = await reader.read(65536)
        if not chunk:
            break
        buffer += chunk
        while len(buffer) >= 2:
            length = buffer[1] & 0x7F
            header = 2 if length < 126 else (4 if length == 126 else 10)
            if length == 126 and len(buffer) >= 4:
                length = int.from_bytes(buffer[2:4], "big")
            elif length == 127 and len(buffer) >= 10:
                length = int.from_bytes(buffer[2:10], "big")
            if len(buffer) < header + length:
                break
            buffer = buffer[header + length:]
            frames += 1
    done.append(frames)
    writer.close()


async def run(binary: str, tls, count: int, messages: int, rate: float, payload: int) -> None:
    args = [binary, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"]
    context = None
    if tls:
        args += ["--tls-cert", tls[0], "--tls-key", tls[1]]
        context = ssl.create_default_context(cafile=tls[0])
    h = H.HeraldProcess(args, H.clean_env()).wait_ready()
    try:
        done: list = []
        tasks = [asyncio.create_task(subscriber(h.port, context, messages, done)) for _ in range(count)]
        deadline = time.monotonic() + 120
        while H.admin_get(h.admin_port, "/v1/topics/fan").json()["subscribers"] < count:
            assert time.monotonic() < deadline, "subscribers did not all arrive"
            await asyncio.sleep(0.1)

        def publisher():
            body = json.dumps({"pad": "x" * payload}).encode()
            for _ in range(messages):
                request = urllib.request.Request(f"http://127.0.0.1:{h.admin_port}/v1/publish?topic=fan", data=body,
                                                 headers={"Content-Type": "application/json"}, method="POST")
                urllib.request.urlopen(request).read()
                time.sleep(1 / rate)

        before = H.process_cpu_seconds(h.proc.pid)
        started = time.monotonic()
        await asyncio.gather(asyncio.to_thread(publisher), *tasks)
        elapsed = time.monotonic() - started
        spent = H.process_cpu_seconds(h.proc.pid) - before
        deliveries = sum(done)
        kind = "TLS" if tls else "plain"
        print(f"{kind}: {count} subscribers x {messages} messages of ~{payload + 12} B: {deliveries} deliveries in "
              f"{elapsed:.1f} s; server CPU {spent:.2f} s = {spent / deliveries * 1e6:.2f} us per delivery")
    finally:
        h.kill()


def main() -> None:
    binary = sys.argv[1]
    count, messages, rate, payload = (int(sys.argv[i]) if len(sys.argv) > i else d
                                      for i, d in ((2, 500), (3, 200), (4, 50), (5, 200)))
    cert, key = (Path(path) for path in make_certificate(Path(tempfile.mkdtemp())))
    asyncio.run(run(binary, None, count, messages, rate, payload))
    asyncio.run(run(binary, (str(cert), str(key)), count, messages, rate, payload))


if __name__ == "__main__":
    main()
