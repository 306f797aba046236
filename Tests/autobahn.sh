#!/usr/bin/env bash
# Runs the Autobahn|Testsuite fuzzing client against a fresh herald's /echo.
#   Tests/autobahn.sh PATH/TO/autobahn PATH/TO/herald [CASES]
set -euo pipefail
tool=$1; bin=$2; cases=${3:-}
log=$(mktemp)
# Autobahn sends messages up to 16 MiB (cases 9.*, 12.*.10+): the limit is raised for the run.
"$bin" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --enable-echo --shards 1 --connections-max 1000 \
  --message-bytes-max 16777216 2>"$log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 100); do grep -q 'msg=ready' "$log" && break; sleep 0.1; done
port=$(grep -o 'listen=[0-9.]*:[0-9]*' "$log" | head -1 | cut -d: -f2)
[ -n "$port" ] || { echo "autobahn: herald did not start"; cat "$log"; exit 1; }
if [ -n "$cases" ]; then "$tool" "ws://127.0.0.1:$port/echo" "$cases"; else "$tool" "ws://127.0.0.1:$port/echo"; fi
