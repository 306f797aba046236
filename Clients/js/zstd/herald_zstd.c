/*
 * The browser client's zstd decoder: libzstd's decompressor (Debian's
 * libzstd source package, the version of libzstd-dev) compiled to
 * WebAssembly by build-wasm.sh, with these few exports for herald.js.
 * Frames are herald.zstd.v1's (Docs/PROTOCOL.md): one zstd frame that
 * states its content size, with or without a dictionary the server sent.
 *
 * Memory: the JavaScript side copies a frame in with hz_alloc, asks
 * hz_content_size first and refuses a frame larger than its own limit
 * before anything is decompressed (no decompression bomb); dictionaries are
 * loaded once each (hz_dictionary_load) and freed when the client drops
 * them.
 */
#define ZSTD_STATIC_LINKING_ONLY
#include <stdlib.h>
#include "zstd.h"
#include "zstd_errors.h"

#define HZ_EXPORT(name) __attribute__((export_name(#name)))

static ZSTD_DCtx *context;

HZ_EXPORT(hz_alloc) void *hz_alloc(size_t size) { return malloc(size ? size : 1); }
HZ_EXPORT(hz_free) void hz_free(void *pointer) { free(pointer); }

/* The frame's declared content size, or -1 when it states none, -2 when the
 * input is not a zstd frame, -3 when the size is 2 GiB or more. */
HZ_EXPORT(hz_content_size) int hz_content_size(const void *source, size_t length) {
    unsigned long long size = ZSTD_getFrameContentSize(source, length);
    if (size == ZSTD_CONTENTSIZE_UNKNOWN) return -1;
    if (size == ZSTD_CONTENTSIZE_ERROR) return -2;
    if (size >= 0x80000000ULL) return -3;
    return (int)size;
}

/* A dictionary prepared once (ZSTD_createDDict copies the bytes); 0 when the
 * bytes are not a usable dictionary. */
HZ_EXPORT(hz_dictionary_load) ZSTD_DDict *hz_dictionary_load(const void *bytes, size_t length) {
    return ZSTD_createDDict(bytes, length);
}

HZ_EXPORT(hz_dictionary_free) void hz_dictionary_free(ZSTD_DDict *dictionary) { ZSTD_freeDDict(dictionary); }

/* Decompresses one frame into destination (capacity bytes) with the
 * dictionary (0 for none). Returns the size, or a negative number when the
 * frame is corrupt, needs another dictionary, or does not fit. */
HZ_EXPORT(hz_decompress) int hz_decompress(void *destination, size_t capacity, const void *source, size_t length,
                                           const ZSTD_DDict *dictionary) {
    if (!context && !(context = ZSTD_createDCtx())) return -1;
    size_t result = dictionary
        ? ZSTD_decompress_usingDDict(context, destination, capacity, source, length, dictionary)
        : ZSTD_decompressDCtx(context, destination, capacity, source, length);
    if (ZSTD_isError(result)) return -(int)ZSTD_getErrorCode(result) - 1;
    return (int)result;
}
