"""TLS on the public listener (issue 10, first step): `wss://` with
OpenSSL over memory BIOs on the io_uring loop. Certificates are made per
run with the `openssl` command (ECDSA P-256 and RSA-2048, self-signed)."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import ssl
import subprocess
import time

import pytest
import websockets

import herald_e2e as H


def make_certificate(directory, kind: str = "ec") -> tuple[str, str]:
    cert, key = directory / f"{kind}-cert.pem", directory / f"{kind}-key.pem"
    algorithm = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"] if kind == "ec" else ["-newkey", "rsa:2048"]
    subprocess.run(["openssl", "req", "-x509", *algorithm, "-keyout", str(key), "-out", str(cert), "-days", "2",
                    "-nodes", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return str(cert), str(key)


@pytest.fixture
def certificate(tmp_path):
    return make_certificate(tmp_path)


@pytest.fixture
def tls_herald(start_herald, certificate):
    cert, key = certificate
    return start_herald("--tls-cert", cert, "--tls-key", key, "--handshake-timeout", "2")


def client_context(cert: str, **versions) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=cert)
    for name, value in versions.items():
        setattr(context, name, value)
    return context


def publish(h: H.HeraldProcess, topic: str, data) -> dict:
    r = H.admin_request(h.admin_port, "POST", f"/v1/publish?topic={topic}", body=json.dumps(data).encode(),
                        content_type="application/json")
    assert r.status == 200, r.body
    return r.json()


def metric(h: H.HeraldProcess, name: str, **labels) -> float:
    samples = H.parse_prometheus(H.admin_get(h.admin_port, "/metrics").body.decode())
    return H.prom_value(samples, name, **labels) or 0


def test_wss_carries_the_protocol_both_ways(tls_herald, certificate):
    async def scenario():
        context = client_context(certificate[0])
        async with websockets.connect(f"wss://127.0.0.1:{tls_herald.port}/ws", ssl=context,
                                      max_size=None, compression="deflate") as ws:
            await ws.send(json.dumps({"type": "subscribe", "topic": "t"}))
            assert json.loads(await ws.recv())["type"] == "subscribed"
            await asyncio.to_thread(publish, tls_herald, "t", {"x": 1})
            assert json.loads(await ws.recv())["data"] == {"x": 1}
            big = "y" * 300_000  # many records, compressed once, encrypted per connection
            await asyncio.to_thread(publish, tls_herald, "t", big)
            assert json.loads(await ws.recv())["data"] == big
            await ws.send("z" * 60_000)  # inbound across several records and receives
            assert json.loads(await ws.recv())["code"] == "bad_json"
            await ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await ws.recv()) == {"type": "pong"}
            assert ws.transport.get_extra_info("ssl_object").version() == "TLSv1.3"

    H.run_async(scenario())
    assert metric(tls_herald, "herald_tls_handshakes_total") >= 1


def test_every_subscriber_gets_each_publish_encrypted_for_it(tls_herald, certificate):
    async def scenario():
        context = client_context(certificate[0])
        sockets = [await websockets.connect(f"wss://127.0.0.1:{tls_herald.port}/ws?topics=fan", ssl=context)
                   for _ in range(40)]
        H.wait_until(lambda: H.admin_get(tls_herald.admin_port, "/v1/topics/fan").json()["subscribers"] == 40, 10,
                     desc="40 subscribers")
        for i in range(1, 21):
            await asyncio.to_thread(publish, tls_herald, "fan", i)
        for ws in sockets:
            got = [json.loads(await asyncio.wait_for(ws.recv(), 10))["seq"] for _ in range(20)]
            assert got == list(range(1, 21))
            await ws.close()

    H.run_async(scenario(), timeout=60)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_tls12_works_and_older_versions_are_refused(tls_herald, certificate):
    cert = certificate[0]
    context = client_context(cert, maximum_version=ssl.TLSVersion.TLSv1_2)
    with socket.create_connection(("127.0.0.1", tls_herald.port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.version() == "TLSv1.2"
            tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert tls.recv(4096).startswith(b"HTTP/1.1 200")
    before = metric(tls_herald, "herald_handshakes_failed_total", reason="tls")
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    old.minimum_version = ssl.TLSVersion.TLSv1
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    try:
        old.set_ciphers("ALL:@SECLEVEL=0")
    except ssl.SSLError:
        pass
    with socket.create_connection(("127.0.0.1", tls_herald.port), timeout=5) as raw:
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
            with old.wrap_socket(raw) as tls:
                tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                tls.recv(10)
    H.wait_until(lambda: metric(tls_herald, "herald_handshakes_failed_total", reason="tls") > before, 10,
                 desc="the refused handshake counted")


def test_alpn_answers_http11(tls_herald, certificate):
    context = client_context(certificate[0])
    context.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", tls_herald.port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.selected_alpn_protocol() == "http/1.1"
    only_h2 = client_context(certificate[0])
    only_h2.set_alpn_protocols(["h2"])
    with socket.create_connection(("127.0.0.1", tls_herald.port), timeout=5) as raw:
        with only_h2.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.selected_alpn_protocol() is None  # no ALPN answer, still a handshake


@pytest.mark.parametrize("garbage", [b"GET /ws HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x00\x05hello", b"\x00" * 600])
def test_garbage_instead_of_a_client_hello_is_closed_and_counted(tls_herald, garbage):
    before = metric(tls_herald, "herald_handshakes_failed_total", reason="tls")
    with socket.create_connection(("127.0.0.1", tls_herald.port), timeout=5) as raw:
        raw.sendall(garbage)
        raw.settimeout(5)
        try:
            while raw.recv(4096):
                pass
        except ConnectionResetError:
            pass
    H.wait_until(lambda: metric(tls_herald, "herald_handshakes_failed_total", reason="tls") > before, 10,
                 desc="the failed handshake counted")
    # The server is fine.
    assert H.admin_get(tls_herald.admin_port, "/healthz").status == 200


def test_a_stalled_handshake_is_closed_by_the_handshake_timeout(tls_herald):
    before = metric(tls_herald, "herald_handshakes_failed_total", reason="timeout")
    with socket.create_connection(("127.0.0.1", tls_herald.port), timeout=10) as raw:
        raw.sendall(b"\x16\x03\x01\x02\x00\x01\x00")  # the start of a ClientHello, then nothing
        started = time.monotonic()
        assert raw.recv(10) == b""
        assert time.monotonic() - started < 8
    assert metric(tls_herald, "herald_handshakes_failed_total", reason="timeout") > before


def test_an_rsa_certificate_works_too(start_herald, tmp_path):
    cert, key = make_certificate(tmp_path, "rsa")
    herald = start_herald("--tls-cert", cert, "--tls-key", key)

    async def scenario():
        async with websockets.connect(f"wss://127.0.0.1:{herald.port}/ws?topics=r", ssl=client_context(cert)) as ws:
            await ws.send(json.dumps({"type": "ping"}))
            assert json.loads(await ws.recv()) == {"type": "pong"}

    H.run_async(scenario())


def test_bad_tls_configurations_are_refused_at_start(herald_bin, tmp_path, certificate):
    cert, key = certificate
    lone = H.run_herald_once(herald_bin, ["--tls-cert", cert, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
    assert lone.returncode != 0 and b"--tls-key" in lone.stderr
    other_cert, other_key = make_certificate(tmp_path, "rsa")
    mismatched = H.run_herald_once(herald_bin, ["--tls-cert", cert, "--tls-key", other_key,
                                                "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
    assert mismatched.returncode != 0 and b"TLS" in mismatched.stderr
    missing = H.run_herald_once(herald_bin, ["--tls-cert", str(tmp_path / "none.pem"), "--tls-key", key,
                                             "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
    assert missing.returncode != 0 and b"none.pem" in missing.stderr


def test_sighup_reloads_the_certificate_without_dropping_connections(start_herald, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first_cert, first_key = make_certificate(tmp_path / "a")
    second_cert, second_key = make_certificate(tmp_path / "b")
    live_cert, live_key = tmp_path / "live-cert.pem", tmp_path / "live-key.pem"
    live_cert.write_bytes(open(first_cert, "rb").read())
    live_key.write_bytes(open(first_key, "rb").read())
    herald = start_herald("--tls-cert", str(live_cert), "--tls-key", str(live_key))

    def handshake(ca: str) -> None:
        with socket.create_connection(("127.0.0.1", herald.port), timeout=5) as raw:
            with client_context(ca).wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                assert tls.recv(4096).startswith(b"HTTP/1.1 200")

    async def scenario():
        async with websockets.connect(f"wss://127.0.0.1:{herald.port}/ws", ssl=client_context(first_cert)) as ws:
            live_cert.write_bytes(open(second_cert, "rb").read())
            live_key.write_bytes(open(second_key, "rb").read())
            herald.send_signal(signal.SIGHUP)
            await asyncio.to_thread(H.wait_until, lambda: metric(herald, "herald_tls_reloads_total", result="ok") == 1,
                                    10, desc="the reload")
            await asyncio.to_thread(handshake, second_cert)  # new handshakes: the new certificate
            with pytest.raises(ssl.SSLCertVerificationError):
                await asyncio.to_thread(handshake, first_cert)
            await ws.send(json.dumps({"type": "ping"}))  # the old connection goes on
            assert json.loads(await ws.recv()) == {"type": "pong"}
            # A broken file is refused; the certificate in use stays.
            live_cert.write_text("not a certificate")
            herald.send_signal(signal.SIGHUP)
            await asyncio.to_thread(H.wait_until,
                                    lambda: metric(herald, "herald_tls_reloads_total", result="failed") == 1,
                                    10, desc="the failed reload")
            await asyncio.to_thread(handshake, second_cert)

    H.run_async(scenario())
    assert "tls reload failed" in herald.stderr_text()


def test_allowed_origins_forbid_other_browser_origins(start_herald):
    herald = start_herald("--allowed-origins", "https://app.example.com,https://*.example.org")

    def status(origin: str | None) -> int:
        extra = [("Origin", origin)] if origin else []
        raw = H.upgrade_request("/ws", f"127.0.0.1:{herald.port}", H.make_key(), extra=extra)
        with H.connect(herald.port) as sock:
            sock.sendall(raw)
            return H.read_http_response(H.SockReader(sock), head_only=True).status

    assert status("https://app.example.com") == 101
    assert status("https://eu.example.org") == 101
    assert status(None) == 101  # not a browser
    assert status("https://evil.test") == 403
    assert status("null") == 403
    assert metric(herald, "herald_handshakes_failed_total", reason="origin") == 2


def test_a_malformed_origin_list_is_refused_at_start(herald_bin):
    out = H.run_herald_once(herald_bin, ["--allowed-origins", "ftp://x", "--listen", "127.0.0.1:0",
                                         "--admin-listen", "127.0.0.1:0"])
    assert out.returncode != 0 and b"--allowed-origins" in out.stderr


def test_a_returning_client_resumes_its_session(tls_herald, certificate):
    """TLS 1.3 stateless session tickets (RFC 8446 §4.6.1): sent after the
    handshake, they let a reconnecting client skip the certificate."""
    context = client_context(certificate[0])

    def connect(session=None):
        with socket.create_connection(("127.0.0.1", tls_herald.port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="localhost", session=session) as tls:
                tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                assert tls.recv(4096).startswith(b"HTTP/1.1 200")  # the tickets came before it
                return tls.session, tls.session_reused

    session, reused = connect()
    assert not reused and session is not None
    _, reused = connect(session)
    assert reused


def test_the_server_ends_with_close_notify(tls_herald, certificate):
    """RFC 8446 §6.1: close_notify before the FIN, so a client can tell the
    end of the answer from a truncation (Python raises on a bare EOF when
    ragged EOFs are not suppressed)."""
    context = client_context(certificate[0])
    for request in (b"GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n",  # 404, then close
                    b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"):
        with socket.create_connection(("127.0.0.1", tls_herald.port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False) as tls:
                tls.sendall(request)
                answer = b""
                while chunk := tls.recv(4096):  # b"" only after close_notify
                    answer += chunk
                assert answer.startswith(b"HTTP/1.1 ")


def test_a_storm_from_one_address_is_cut_at_accept(start_herald, certificate):
    """--connect-rate-per-source: past its burst, a source's connections are
    closed before any byte is read (no TLS handshake is paid for them);
    other work goes on, and the source gets its rate back with time."""
    cert, key = certificate
    herald = start_herald("--tls-cert", cert, "--tls-key", key, "--connect-rate-per-source", "2")
    context = client_context(cert)

    def attempt() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", herald.port), timeout=5) as raw:
                with context.wrap_socket(raw, server_hostname="localhost") as tls:
                    tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    return tls.recv(100).startswith(b"HTTP/1.1 200")
        except (ssl.SSLError, ConnectionError, OSError):
            return False

    started = time.monotonic()
    results = [attempt() for _ in range(20)]
    elapsed = time.monotonic() - started
    # The burst of 2, plus 2 a second for however long the attempts took
    # (a bound that holds on a busy machine too), never all 20 at once.
    assert 2 <= sum(results) <= 2 + 2 * elapsed + 1, (results, elapsed)
    assert metric(herald, "herald_handshakes_failed_total", reason="rate_limited") >= 20 - sum(results)
    assert metric(herald, "herald_tls_handshakes_total") == sum(results)  # no handshake for the refused
    time.sleep(0.6)
    assert attempt()  # the rate refills (one token every 0.5 s)
