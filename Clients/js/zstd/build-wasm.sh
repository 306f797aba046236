#!/bin/sh
# Builds herald-zstd.wasm, the browser client's zstd decoder, from Debian
# packages only: libzstd's decompressor from Debian's `libzstd` source
# package (the very version of the installed libzstd-dev, fetched by apt and
# checked against the archive's signed index, unpacked by dpkg-source, which
# checks the .dsc's checksums), compiled by Debian's clang-14 for wasm32-wasi
# against Debian's wasi-libc and linked by Debian's wasm-ld (lld-14). Nothing
# prebuilt is downloaded; the result is never committed.
#
#   Clients/js/zstd/build-wasm.sh OUT.wasm
#
# The packages: clang-14 lld-14 wasi-libc libclang-rt-14-dev-wasm32 dpkg-dev
# (the Makefile's WASM_APT_PACKAGES). The source is kept in
# .build/wasm/ (HERALD_WASM_WORK) and fetched once per libzstd version.
set -eu

out=${1:?usage: build-wasm.sh OUT.wasm}
here=$(cd "$(dirname "$0")" && pwd)
work=${HERALD_WASM_WORK:-$here/../../../.build/wasm}
mkdir -p "$work"
work=$(cd "$work" && pwd)
shim="$here/herald_zstd.c"

version=$(dpkg-query -W -f '${Version}' libzstd-dev 2>/dev/null) || {
    echo "build-wasm: libzstd-dev is not installed (make deps)" >&2; exit 1; }
src="$work/libzstd-$version"

if [ ! -f "$src/lib/decompress/zstd_decompress.c" ]; then
    # apt with private lists: the machine's own sources, as deb-src. Nothing
    # in /etc/apt changes.
    apt="$work/apt"
    rm -rf "$apt" "$work/download"
    mkdir -p "$apt/parts" "$apt/lists/partial" "$work/download"
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] && sed -n 's/^deb \(.*\)$/deb-src \1/p' "$f"
    done > "$apt/sources.list"
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] && sed 's/^Types: *deb$/Types: deb-src/' "$f" > "$apt/parts/$(basename "$f")"
    done
    set -- -o Dir::Etc::SourceList="$apt/sources.list" -o Dir::Etc::SourceParts="$apt/parts" \
        -o Dir::State::Lists="$apt/lists" -o Debug::NoLocking=1 -o APT::Sandbox::User=root -qq
    echo "build-wasm: fetching Debian's libzstd source $version" >&2
    apt-get "$@" update
    (cd "$work/download" && apt-get "$@" source --download-only "libzstd-dev=$version")
    dsc=$(ls "$work/download"/*.dsc)
    rm -rf "$src.tmp"
    dpkg-source -x "$dsc" "$src.tmp" >/dev/null 2>&1 || { echo "build-wasm: dpkg-source -x $dsc failed" >&2; exit 1; }
    mv "$src.tmp" "$src"
    rm -rf "$work/download" "$apt" "$work"/*.orig.tar.* "$work"/*.debian.tar.*
fi

lib="$src/lib"
tmp="$out.tmp.$$"
# -Oz: a small module (~60 KB). ZSTD_NO_INTRINSICS and ZSTD_DISABLE_ASM:
# portable C only; no legacy formats (herald never writes them).
clang-14 --target=wasm32-wasi --sysroot=/usr -Oz -flto -DNDEBUG \
    -DZSTD_NO_INTRINSICS -DZSTD_DISABLE_ASM -DZSTD_LEGACY_SUPPORT=0 -DZSTD_HAVE_WEAK_SYMBOLS=0 \
    -DZSTD_TRACE=0 -DXXH_NAMESPACE=ZSTD_ -I"$lib" -I"$lib/common" \
    "$lib/common/entropy_common.c" "$lib/common/error_private.c" "$lib/common/fse_decompress.c" \
    "$lib/common/xxhash.c" "$lib/common/zstd_common.c" \
    "$lib/decompress/huf_decompress.c" "$lib/decompress/zstd_ddict.c" \
    "$lib/decompress/zstd_decompress.c" "$lib/decompress/zstd_decompress_block.c" \
    "$shim" -nostartfiles -Wl,--no-entry -L/usr/lib/wasm32-wasi -Wl,--strip-all -Wl,--gc-sections \
    -o "$tmp"
mv "$tmp" "$out"
echo "build-wasm: $out ($(wc -c < "$out") bytes, libzstd $version)" >&2
