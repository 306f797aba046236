"""Herald's own TLS 1.3 record layer (issue 10's moonshot): after the
handshake herald frees OpenSSL's `SSL` object and seals and opens records
itself. These drive it from outside with independent TLS stacks — Python's
ssl module and `openssl s_client` — and read the counters that prove which
path ran. (Differential tests against OpenSSL in-process: Tests/HeraldTLSTests.)"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import select
import socket
import ssl
import subprocess
import time

import pytest
import websockets

import herald_e2e as H
from test_tls import certificate, client_context, metric, publish  # noqa: F401 (fixture)


def tls_herald_with(start_herald, certificate, *extra):
    cert, key = certificate
    return start_herald("--tls-cert", cert, "--tls-key", key, *extra)


async def subscribe_and_receive(herald, cert, topic):
    async with websockets.connect(f"wss://127.0.0.1:{herald.port}/ws", ssl=client_context(cert)) as ws:
        await ws.send(json.dumps({"type": "subscribe", "topic": topic}))
        assert json.loads(await ws.recv())["type"] == "subscribed"
        await asyncio.to_thread(publish, herald, topic, {"n": 1})
        assert json.loads(await ws.recv())["data"] == {"n": 1}
        return ws.transport.get_extra_info("ssl_object").version()


def test_tls13_connections_hand_over_and_tls12_keeps_openssl(start_herald, certificate):
    herald = tls_herald_with(start_herald, certificate)
    assert H.run_async(subscribe_and_receive(herald, certificate[0], "a")) == "TLSv1.3"
    assert metric(herald, "herald_tls_record_layer_handovers_total") == 1
    # TLS 1.2 keeps its SSL object: same protocol, no hand-over.
    context = client_context(certificate[0], maximum_version=ssl.TLSVersion.TLSv1_2)
    with socket.create_connection(("127.0.0.1", herald.port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.version() == "TLSv1.2"
            tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert tls.recv(4096).startswith(b"HTTP/1.1 200")
    assert metric(herald, "herald_tls_handshakes_total") == 2
    assert metric(herald, "herald_tls_record_layer_handovers_total") == 1


def test_openssl_keeps_the_record_layer_when_told(start_herald, certificate):
    herald = tls_herald_with(start_herald, certificate, "--tls-record-layer", "openssl")
    assert H.run_async(subscribe_and_receive(herald, certificate[0], "a")) == "TLSv1.3"
    assert metric(herald, "herald_tls_handshakes_total") == 1
    assert metric(herald, "herald_tls_record_layer_handovers_total") == 0


def test_an_unknown_record_layer_is_refused_at_start(herald_bin):
    proc = subprocess.run([str(herald_bin), "--tls-record-layer", "gnutls"], capture_output=True, timeout=10)
    assert proc.returncode != 0
    assert b"tls-record-layer" in proc.stderr


@pytest.mark.parametrize("suite", ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
                                   "TLS_CHACHA20_POLY1305_SHA256"])
def test_every_tls13_suite_is_served_by_the_record_layer(start_herald, certificate, suite):
    herald = tls_herald_with(start_herald, certificate)
    found = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{herald.port}", "-tls1_3",
                            "-ciphersuites", suite, "-ign_eof", "-CAfile", certificate[0]],
                           input=b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", capture_output=True, timeout=20)
    assert b"HTTP/1.1 200" in found.stdout, found.stderr[-500:]
    assert f"Cipher is {suite}".encode() in found.stdout
    assert metric(herald, "herald_tls_record_layer_handovers_total") == 1


def read_until(stream, needle: bytes, deadline: float) -> bytes:
    seen = b""
    while needle not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"{needle!r} never came; got {seen[-400:]!r}"
        ready, _, _ = select.select([stream], [], [], left)
        if ready:
            chunk = os.read(stream.fileno(), 65536)
            assert chunk, f"stream ended before {needle!r}; got {seen[-400:]!r}"
            seen += chunk
    return seen


def masked_text_frame(text: str) -> bytes:
    payload = text.encode()
    assert len(payload) < 126
    mask = bytes([0x37, 0xFA, 0x21, 0x3D])
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def test_a_key_update_from_the_client_is_followed_and_answered(start_herald, certificate):
    """RFC 8446 §4.6.3 with OpenSSL's s_client as the client: `K` sends a
    KeyUpdate that requests one back. Herald must read on under the
    client's next key and answer with its own KeyUpdate before its next
    data, which the client can only read if herald changed keys right."""
    herald = tls_herald_with(start_herald, certificate)
    client = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{herald.port}", "-tls1_3",
                               "-CAfile", certificate[0]],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        key = base64.b64encode(os.urandom(16)).decode()
        client.stdin.write((f"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        client.stdin.flush()
        read_until(client.stdout, b"101 Switching Protocols", deadline)
        # Commands are letters at the start of what s_client reads: alone.
        client.stdin.write(b"K\n")
        client.stdin.flush()
        read_until(client.stderr, b"KEYUPDATE", deadline)
        H.wait_until(lambda: metric(herald, "herald_tls_key_updates_received_total") == 1, 10,
                     desc="the KeyUpdate read")
        client.stdin.write(masked_text_frame(json.dumps({"type": "subscribe", "topic": "ku"})))
        client.stdin.flush()
        read_until(client.stdout, b'"subscribed"', deadline)
        publish(herald, "ku", "after-the-key-update")
        read_until(client.stdout, b"after-the-key-update", deadline)
        assert metric(herald, "herald_tls_key_updates_sent_total") == 1
        assert metric(herald, "herald_tls_record_layer_handovers_total") == 1
    finally:
        client.kill()
        client.wait()


def test_a_forged_record_gets_bad_record_mac_and_the_end(start_herald, certificate):
    """A record that does not deprotect (RFC 8446 §5.2): herald answers
    with a bad_record_mac alert, counts it, and closes; the client's TLS
    stack reads the alert."""
    herald = tls_herald_with(start_herald, certificate)
    context = client_context(certificate[0])
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with socket.create_connection(("127.0.0.1", herald.port), timeout=5) as raw:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                raw.sendall(outgoing.read())
                incoming.write(raw.recv(65536))
        raw.sendall(outgoing.read())
        H.wait_until(lambda: metric(herald, "herald_tls_record_layer_handovers_total") == 1, 10,
                     desc="the hand-over")
        # An application_data record of 32 bytes that no key sealed.
        raw.sendall(bytes([23, 3, 3, 0, 32]) + os.urandom(32))
        received = b""
        while chunk := raw.recv(65536):
            received += chunk
        incoming.write(received)
        with pytest.raises(ssl.SSLError, match="BAD_RECORD_MAC"):
            while True:
                tls.read(65536)  # the tickets first, then the alert
    assert metric(herald, "herald_tls_alerts_sent_total") == 1
    assert metric(herald, "herald_tls_errors_total") == 1
