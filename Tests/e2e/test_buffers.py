"""An exhausted provided-buffer ring (ENOBUFS) parks receives and re-arms
them as buffers return: every byte still arrives, nothing is fatal, and the
event is counted (issue #2: "ENOBUFS ... handled and counted, never fatal")."""
from __future__ import annotations

import os
import socket
import threading

import herald_e2e as H

CLIENTS = 120
MESSAGES = 40
SIZE = 1500


def blast(port: int, failures: list, index: int) -> None:
    try:
        ws = H.RawWS.open(port, "/echo", timeout=20)
        with ws:
            payloads = [os.urandom(SIZE) for _ in range(MESSAGES)]
            # Everything at once: the server's tiny buffer ring runs dry.
            ws.send_raw(b"".join(H.build_frame(H.OP_BINARY, p, mask=True) for p in payloads))
            for payload in payloads:
                opcode, data = ws.recv_message(30)
                assert opcode == H.OP_BINARY and data == payload
    except BaseException as error:  # reported by the main thread
        failures.append((index, repr(error)))


def test_buffer_ring_exhaustion_is_survived_and_counted(start_herald):
    herald = start_herald("--enable-echo", "--shards", "1", "--recv-buffer-count", "16",
                          "--recv-buffer-bytes", "512")
    failures: list = []
    threads = [threading.Thread(target=blast, args=(herald.port, failures, i)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert not failures, failures[:3]
    stats = H.get_stats(herald.admin_port)
    assert stats["shards"][0]["receive_no_buffers_total"] > 0, stats["shards"]
    assert stats["messages_received_total"] == CLIENTS * MESSAGES
    # Still serving.
    with H.RawWS.open(herald.port, "/echo") as ws:
        ws.roundtrip(H.OP_TEXT, b"after the storm")
