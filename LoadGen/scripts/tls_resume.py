#!/usr/bin/env python3
"""Server CPU per full and per resumed TLS 1.3 handshake (a measurement for
Docs/BENCHMARKS.md, not a test): N connections each way from one Python
client, each a GET /healthz over TLS; resumed ones present the session
ticket of the first connection.

    LoadGen/scripts/tls_resume.py HERALD_BINARY [N]
"""
import socket
import ssl
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Tests" / "e2e"))
import herald_e2e as H  # noqa: E402
from test_tls import make_certificate  # noqa: E402



def main() -> None:
    binary = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    cert, key = (Path(path) for path in make_certificate(Path(tempfile.mkdtemp())))
    h = H.HeraldProcess([binary, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--shards", "1",
                         "--tls-cert", str(cert), "--tls-key", str(key)], H.clean_env()).wait_ready()
    context = ssl.create_default_context(cafile=str(cert))

    def connect(session=None):
        with socket.create_connection(("127.0.0.1", h.port)) as raw:
            with context.wrap_socket(raw, server_hostname="localhost", session=session) as tls:
                tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                tls.recv(100)  # the tickets arrive before the answer
                return tls.session, tls.session_reused

    try:
        session, _ = connect()
        assert connect(session)[1], "the server did not resume"
        before = H.process_cpu_seconds(h.proc.pid)
        for _ in range(count):
            connect()
        full = (H.process_cpu_seconds(h.proc.pid) - before) / count
        before = H.process_cpu_seconds(h.proc.pid)
        for _ in range(count):
            connect(session)
        resumed = (H.process_cpu_seconds(h.proc.pid) - before) / count
        print(f"server CPU per connection over {count}: full handshake {full * 1e6:.0f} us, "
              f"resumed {resumed * 1e6:.0f} us")
    finally:
        h.kill()


if __name__ == "__main__":
    main()
