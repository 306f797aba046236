"""No per-delivery heap allocation (issue #3): a publish is encoded once and
each subscriber gets a reference, so the allocator is called a bounded number
of times per *publish*, whatever the number of subscribers.

Herald runs under an LD_PRELOAD counter (malloc_counter.c) that reports the
process's allocation calls to a file; the test reads it around a burst of
publishes to many subscribers.
"""
import http.client
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

import herald_e2e as H

SUBSCRIBERS = 200
PUBLISHES = 100
WARMUP = PUBLISHES


def build_counter(tmp_path: Path) -> Path:
    compiler = next((c for c in ("cc", "gcc", "clang") if shutil.which(c)), None)
    assert compiler, "no C compiler (cc/gcc/clang) to build the allocation counter"
    library = tmp_path / "malloc_counter.so"
    source = Path(__file__).with_name("malloc_counter.c")
    subprocess.run([compiler, "-O2", "-shared", "-fPIC", "-o", str(library), str(source), "-lpthread"],
                   check=True, capture_output=True)
    return library


def read_count(path: Path) -> int:
    """The counter, once it has stopped moving (the server is idle)."""
    previous = -1
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        time.sleep(0.15)
        try:
            value = int(path.read_text().strip() or "-1")
        except (FileNotFoundError, ValueError):
            continue
        if value == previous:
            return value
        previous = value
    raise AssertionError("allocation counter never settled")


def publish_burst(admin_port: int, first: int, count: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", admin_port, timeout=10)
    for n in range(first, first + count):
        connection.request("POST", "/v1/publish?topic=alloc", body=f'{{"n":{n}}}',
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        assert response.status == 200
    connection.close()


def drain(subscribers: list, count: int, first: int) -> None:
    for ws in subscribers:
        for n in range(first, first + count):
            message = ws.recv_json(10)
            assert message["type"] == "message" and message["data"] == {"n": n}, message


def measure(herald, counter_file: Path, subscribers: list, first: int) -> int:
    """Allocation calls made while PUBLISHES messages reach every subscriber."""
    before = read_count(counter_file)
    publish_burst(herald.admin_port, first, PUBLISHES)
    drain(subscribers, PUBLISHES, first)
    return read_count(counter_file) - before


def test_delivery_does_not_allocate_per_subscriber(start_herald, tmp_path):
    library = build_counter(tmp_path)
    counter_file = tmp_path / "mallocs"
    herald = start_herald("--shards", "2", env={"LD_PRELOAD": str(library),
                                                 "HERALD_MALLOC_COUNT_FILE": str(counter_file)})
    subscribers = [H.RawWS.open(herald.port, "/ws?topics=alloc") for _ in range(SUBSCRIBERS)]
    few = SUBSCRIBERS // 8
    try:
        def subscribed(count: int) -> bool:
            return H.admin_get(herald.admin_port, "/v1/topics/alloc").json()["subscribers"] == count

        H.wait_until(lambda: subscribed(SUBSCRIBERS), 10, desc="all subscribed")
        # Warm-up grows the pools (send nodes, flush lists) to their working size.
        publish_burst(herald.admin_port, 0, WARMUP)
        drain(subscribers, WARMUP, 0)
        many_allocations = measure(herald, counter_file, subscribers, WARMUP)
        for ws in subscribers[few:]:
            ws.close()
        H.wait_until(lambda: subscribed(few), 10, desc="most unsubscribed")
        few_allocations = measure(herald, counter_file, subscribers[:few], WARMUP + PUBLISHES)
    finally:
        for ws in subscribers[:few]:
            ws.close()
    extra_deliveries = (SUBSCRIBERS - few) * PUBLISHES
    print(f"allocation calls for {PUBLISHES} publishes: {many_allocations} with {SUBSCRIBERS} subscribers, "
          f"{few_allocations} with {few}; {(many_allocations - few_allocations) / extra_deliveries:+.4f} "
          f"per extra delivery, {many_allocations / PUBLISHES:.1f} per publish")
    # Per-publish work (the HTTP request and response, the frame, one queue
    # node per shard) costs the same either way; anything per delivery would
    # add ≥ 1 call for each of the extra deliveries.
    assert many_allocations - few_allocations < extra_deliveries / 50, (many_allocations, few_allocations)
    assert many_allocations / PUBLISHES < 100
