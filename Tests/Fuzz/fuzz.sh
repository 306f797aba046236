#!/usr/bin/env bash
# Builds the libFuzzer harnesses (Tests/Fuzz/Harnesses.swift compiled with
# the pure sources they test, -sanitize=fuzzer,address) and runs each one.
#
#   Tests/Fuzz/fuzz.sh SECONDS [TARGET...]
#
# Each target runs for SECONDS on its committed corpus (Tests/Fuzz/Corpus/T)
# plus what it finds (kept in .build-fuzz/corpus/T, not committed). A crash
# stops the run with libFuzzer's report and the reproducing input in
# .build-fuzz/; turn it into a unit test next to the parser's others.
set -euo pipefail
seconds=${1:-5}; shift || true
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/.build-fuzz
mkdir -p "$out"
all=(frame-decoder http-head admin-request chunked-body json utf8 extension-offer connection-token query-string publish-batch liveness lifecycle tls-records)
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
# One module: the harnesses reach internal API. AdminRequest.swift lives in
# HeraldEngine but needs only HeraldProtocol; its import line is dropped.
sed '/^import HeraldProtocol$/d' "$root/Sources/HeraldEngine/AdminRequest.swift" > "$out/AdminRequest.swift"
sources=("$root"/Sources/HeraldProtocol/*.swift
         "$root"/Sources/HeraldCore/Liveness.swift "$root"/Sources/HeraldCore/Config.swift
         "$root"/Sources/HeraldCore/RedisEndpoint.swift
         "$out/AdminRequest.swift"
         "$root"/Tests/Fuzz/Harnesses.swift)
binary=$out/herald-fuzz
newest=$(ls -t "${sources[@]}" "$root/Sources/HeraldEngine/AdminRequest.swift" | grep -v "^$out" | head -1)
if [ ! -x "$binary" ] || [ "$newest" -nt "$binary" ]; then
  echo "fuzz: building $binary (log: $out/build.log)"
  # ld.gold warns about every ASan helper symbol; the log keeps them.
  # Built aside and moved into place only when whole: a failed or
  # interrupted build never leaves a binary that looks up to date.
  rm -f "$binary" "$binary.new"
  # HeraldProtocol's digests are libcrypto's (Sources/CCrypto).
  swiftc -O -parse-as-library -sanitize=fuzzer,address -module-name HeraldFuzz \
    -I "$root/Sources/CCrypto" -lcrypto "${sources[@]}" -o "$binary.new" >"$out/build.log" 2>&1 || { grep -v "ld.gold: warning" "$out/build.log"; exit 1; }
  mv "$binary.new" "$binary"
fi
# The TLS record layer needs OpenSSL: its own binary (HeraldTLS's sources
# and its harness; CCrypto and COpenSSL are not mixed in one module).
tls_binary=$out/herald-fuzz-tls
tls_sources=("$root"/Sources/HeraldTLS/*.swift "$root"/Tests/Fuzz/TLSRecordsHarness.swift)
tls_newest=$(ls -t "${tls_sources[@]}" | head -1)
if [[ " ${targets[*]} " == *" tls-records "* ]] && { [ ! -x "$tls_binary" ] || [ "$tls_newest" -nt "$tls_binary" ]; }; then
  echo "fuzz: building $tls_binary (log: $out/build-tls.log)"
  rm -f "$tls_binary" "$tls_binary.new"
  swiftc -O -parse-as-library -sanitize=fuzzer,address -module-name HeraldTLSFuzz \
    -I "$root/Sources/COpenSSL" -lssl -lcrypto "${tls_sources[@]}" -o "$tls_binary.new" >"$out/build-tls.log" 2>&1 \
    || { grep -v "ld.gold: warning" "$out/build-tls.log"; exit 1; }
  mv "$tls_binary.new" "$tls_binary"
fi
for target in "${targets[@]}"; do
  run=$binary
  [ "$target" = tls-records ] && run=$tls_binary
  corpus=$out/corpus/$target
  mkdir -p "$corpus"
  seeds=$root/Tests/Fuzz/Corpus/$target
  echo "fuzz: $target for ${seconds}s"
  # SWIFT_BACKTRACE=enable=no: on a crash, Swift's backtracer and ASan
  # both take the signal, and the backtracer's memory reader faulted under
  # ASan and left the process hanging instead of exiting: libFuzzer's own
  # report (the failed precondition, the input) is the one wanted here.
  SWIFT_BACKTRACE=enable=no HERALD_FUZZ_TARGET=$target "$run" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
    -print_final_stats=0 -artifact_prefix="$out/$target-" "$corpus" "$seeds" 2>"$out/$target.log" \
    || { echo "fuzz: $target FAILED"; tail -40 "$out/$target.log"; exit 1; }
  grep -E "^Done [0-9]+ runs" "$out/$target.log" | tail -1 || true
done
echo "fuzz: ${#targets[@]} targets, no crash"
