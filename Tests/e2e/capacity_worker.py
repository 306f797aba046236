#!/usr/bin/env python3
"""One client process of the capacity test (not a test module itself).

    capacity_worker.py --port P --count N --source 127.0.0.10 [--concurrency 500] [--sample K]

Raises its soft RLIMIT_NOFILE to the hard limit, opens N WebSocket connections
to 127.0.0.1:P/ws from the given source address with raw handshakes (at most
--concurrency in flight), and talks to the parent over stdin/stdout, one JSON
object per line:

    -> {"event":"progress","ok":..,"failed":..}        (every 5 s while opening)
    -> {"event":"opened","ok":..,"failed":..,"errors":[..],"seconds":..}
       (it stops starting handshakes after the first failure)
    <- ping      -> {"event":"pinged","ok":..,"failed":..,"errors":[..]}
    <- close     -> {"event":"closed","count":..}   (then exits)

Every step is bounded; if the parent goes away (stdin EOF) it closes and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import herald_e2e as H  # noqa: E402


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else 1 << 20
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def open_all(args) -> tuple[list, list[str], int]:
    """Open args.count connections; stop starting new ones after the first failure
    (so a server that cannot hold them fails the test in seconds, not hours)."""
    sem = asyncio.Semaphore(args.concurrency)
    conns: list = []
    errors: list[str] = []
    failed = 0
    t0 = time.monotonic()
    last_report = t0

    async def one(i: int) -> None:
        nonlocal failed, last_report
        async with sem:
            if failed:
                return
            try:
                conns.append(await H.async_ws_open("127.0.0.1", args.port, "/ws",
                                                   local_addr=(args.source, 0), timeout=args.timeout))
            except Exception as e:  # noqa: BLE001 - counted and reported
                failed += 1
                if len(errors) < 10:
                    errors.append(f"#{i} after {time.monotonic() - t0:.1f}s with {len(conns)} open: "
                                  f"{type(e).__name__}: {e}"[:300])
            now = time.monotonic()
            if now - last_report >= 5:
                last_report = now
                emit({"event": "progress", "ok": len(conns), "failed": failed})

    await asyncio.gather(*(one(i) for i in range(args.count)))
    return conns, errors, failed


async def ping_one(reader, writer, timeout: float) -> None:
    writer.write(H.build_frame(H.OP_TEXT, b'{"type":"ping"}'))
    await writer.drain()

    async def answer():
        while True:
            f = await H.async_read_frame(reader)
            if f.opcode == H.OP_PING:
                writer.write(H.build_frame(H.OP_PONG, f.payload))
                continue
            if f.opcode == H.OP_PONG:
                continue
            assert f.opcode == H.OP_TEXT, f"unexpected frame {f!r}"
            msg = json.loads(f.payload)
            assert msg == {"type": "pong"}, msg
            return

    await asyncio.wait_for(answer(), timeout)


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--source", default="127.0.0.1")
    p.add_argument("--concurrency", type=int, default=500)
    p.add_argument("--sample", type=int, default=34)
    p.add_argument("--timeout", type=float, default=20.0, help="per-handshake bound")
    p.add_argument("--idle-max", type=float, default=600.0, help="bound on waiting for the parent")
    args = p.parse_args()

    limit = raise_nofile()
    if limit < args.count + 64:
        emit({"event": "opened", "ok": 0, "failed": args.count, "seconds": 0,
              "errors": [f"RLIMIT_NOFILE soft limit {limit} < {args.count + 64} needed"]})
        return

    t0 = time.monotonic()
    conns, errors, failed = await open_all(args)
    emit({"event": "opened", "ok": len(conns), "failed": failed, "errors": errors,
          "seconds": round(time.monotonic() - t0, 2), "nofile": limit})

    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    try:
        while True:
            try:
                line = (await asyncio.wait_for(stdin.readline(), args.idle_max)).decode()
            except asyncio.TimeoutError:
                break
            cmd = line.strip()
            if cmd == "ping":
                sample = random.sample(conns, min(args.sample, len(conns)))
                results = await asyncio.gather(*(ping_one(r, w, 10.0) for r, w in sample),
                                               return_exceptions=True)
                errs = [f"{type(e).__name__}: {e}"[:300] for e in results if isinstance(e, BaseException)]
                emit({"event": "pinged", "ok": len(sample) - len(errs), "failed": len(errs), "errors": errs[:10]})
            elif cmd == "close" or cmd == "":  # "" = parent gone (EOF)
                break
    finally:
        close = H.build_frame(H.OP_CLOSE, H.close_payload(1000))
        for _, w in conns:
            try:
                w.write(close)
                w.close()  # flushes, then FIN
            except Exception:  # noqa: BLE001
                w.transport.abort()
        await asyncio.sleep(0.5)
        for _, w in conns:
            w.transport.abort()
        emit({"event": "closed", "count": len(conns)})


if __name__ == "__main__":
    asyncio.run(main())
