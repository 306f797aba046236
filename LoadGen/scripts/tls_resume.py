#!/usr/bin/env python3
"""Server CPU per full and per resumed TLS 1.3 handshake (a measurement for
Docs/BENCHMARKS.md, not a test). The client is `openssl s_time` (C, one
connection at a time): `-new` makes a full handshake per connection,
`-reuse` resumes the first connection's session from its ticket. Each
connection is a GET /healthz over TLS; herald's counters say how many
handshakes ran and how many resumed.

    LoadGen/scripts/tls_resume.py HERALD_BINARY [SECONDS] [HERALD FLAGS...]
"""
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Tests" / "e2e"))
import herald_e2e as H  # noqa: E402
from test_tls import make_certificate  # noqa: E402


def run(binary: str, seconds: int, mode: str, cert: Path, key: Path, extra: list[str]) -> None:
    h = H.HeraldProcess([binary, "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--shards", "1",
                         "--tls-cert", str(cert), "--tls-key", str(key), *extra], H.clean_env()).wait_ready()
    try:
        before = H.process_cpu_seconds(h.proc.pid)
        subprocess.run(["openssl", "s_time", "-connect", f"127.0.0.1:{h.port}", mode, "-time", str(seconds),
                        "-www", "/healthz"], capture_output=True, timeout=seconds + 30, check=True)
        cpu = H.process_cpu_seconds(h.proc.pid) - before
        samples = H.parse_prometheus(H.admin_get(h.admin_port, "/metrics").body.decode())
        total = H.prom_value(samples, "herald_tls_handshakes_total") or 0
        resumed = H.prom_value(samples, "herald_tls_handshakes_resumed_total") or 0
        print(f"{mode}: {total:.0f} handshakes ({resumed:.0f} resumed) in {seconds} s, "
              f"server CPU {cpu / total * 1e6:.0f} us per connection "
              f"({total / cpu:.0f} per server core-second)")
    finally:
        h.kill()


def main() -> None:
    binary = sys.argv[1]
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    cert, key = (Path(path) for path in make_certificate(Path(tempfile.mkdtemp())))
    for mode in ("-new", "-reuse"):
        run(binary, seconds, mode, cert, key, sys.argv[3:])


if __name__ == "__main__":
    main()
