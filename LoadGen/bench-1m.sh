#!/usr/bin/env bash
# make bench-1m: hold 1,000,000 subscribed WebSocket connections on one machine (server and load generator
# on loopback), publish to all of them, write LoadGen/bench-1m.json. Needs root for the sysctls and ~10 GiB of
# free kernel memory (NOTES.md: ≈ 9.3 GiB for both ends of 1M armed sockets). Results: Docs/BENCHMARKS.md.
set -euo pipefail
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
cd "$(dirname "$0")/.."
CONNECTIONS=${CONNECTIONS:-1000000}
PORT=${PORT:-8080}
ADMIN=${ADMIN:-8081}
TARGETS=${TARGETS:-127.0.0.1-127.0.0.32:$PORT}   # 32 destinations × ~64k source ports ≫ 1M
RATE=${RATE:-30000}
OUT=${OUT:-LoadGen/bench-1m.json}
# Three broadcasts 20 s apart: each reaches all subscribers before the next
# starts, so "until the last subscriber" is one broadcast's completion time.
MESSAGES=${MESSAGES:-3}
PUBLISH_RATE=${PUBLISH_RATE:-0.05}

# Kernel settings (each explained in the report / Docs/OPERATIONS.md):
$SUDO sysctl -w net.ipv4.ip_local_port_range="1024 65535"        # ~64k source ports per (src, dst) pair
$SUDO sysctl -w net.ipv4.ip_local_reserved_ports="$PORT,$ADMIN"  # clients must not take the service ports
$SUDO sysctl -w net.core.somaxconn=65535                        # accept backlog during a fast ramp
$SUDO sysctl -w net.ipv4.tcp_max_syn_backlog=65535
$SUDO sysctl -w net.ipv4.tcp_mem="1572864 2097152 3145728"       # pages (4 KiB): pressure at 8 GiB, max 12 GiB
$SUDO sysctl -w fs.nr_open=1100000                              # only matters if the fd limit is raised too
$SUDO sysctl -w fs.file-max=4000000                             # system-wide open files (2M sockets + slack)

swift build -c release --product herald
swift build -c release --product herald-loadgen

.build/release/herald --listen 0.0.0.0:$PORT --admin-listen 127.0.0.1:$ADMIN \
    --connections-max $((CONNECTIONS + 10000)) --ping-interval 300 2> LoadGen/bench-1m-server.log &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do grep -q 'msg=ready' LoadGen/bench-1m-server.log && break; sleep 0.1; done

# Bounded: the ramp gives up after --ramp-timeout; the whole run after 15 minutes.
timeout 900 .build/release/herald-loadgen fanout --targets "$TARGETS" --connections "$CONNECTIONS" --rate "$RATE" \
    --ramp-timeout 300 --topics 1 --messages "$MESSAGES" --publish-rate "$PUBLISH_RATE" --duration 120 \
    --pub-url "http://127.0.0.1:$ADMIN/v1/publish?topic={topic}" \
    --threads 2 --server-pid $SERVER --json "$OUT"
