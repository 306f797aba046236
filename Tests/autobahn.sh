#!/usr/bin/env bash
# Runs the Autobahn|Testsuite fuzzing client against a fresh herald's /echo.
#   Tests/autobahn.sh PATH/TO/autobahn PATH/TO/herald [CASES]
# With AUTOBAHN_TLS=1 herald listens with TLS (a throwaway ECDSA P-256
# certificate) and the suite connects to wss://: the same cases through
# herald's TLS 1.3 record layer.
set -euo pipefail
tool=$1; bin=$2; cases=${3:-}
log=$(mktemp)
scheme=ws
tls_args=()
if [ "${AUTOBAHN_TLS:-0}" = 1 ]; then
  certdir=$(mktemp -d)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -keyout "$certdir/key.pem" \
    -out "$certdir/cert.pem" -days 2 -nodes -subj /CN=localhost >/dev/null 2>&1
  tls_args=(--tls-cert "$certdir/cert.pem" --tls-key "$certdir/key.pem")
  scheme=wss
fi
# Autobahn sends messages up to 16 MiB (cases 9.*, 12.*.10+): the limit is raised for the run.
"$bin" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --enable-echo --shards 1 --connections-max 1000 \
  --message-bytes-max 16777216 "${tls_args[@]}" 2>"$log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"; [ -z "${certdir:-}" ] || rm -rf "$certdir"' EXIT
for _ in $(seq 100); do grep -q 'msg=ready' "$log" && break; sleep 0.1; done
port=$(grep -o 'listen=[0-9.]*:[0-9]*' "$log" | head -1 | cut -d: -f2)
[ -n "$port" ] || { echo "autobahn: herald did not start"; cat "$log"; exit 1; }
echo "autobahn: $scheme://127.0.0.1:$port/echo"
if [ -n "$cases" ]; then "$tool" "$scheme://127.0.0.1:$port/echo" "$cases"; else "$tool" "$scheme://127.0.0.1:$port/echo"; fi
