// zlib for permessage-deflate (RFC 7692). Only HeraldCompression imports it.
#ifndef HERALD_CZLIB_SHIM_H
#define HERALD_CZLIB_SHIM_H
#include <zlib.h>

// deflateInit2/inflateInit2 are macros (they pass ZLIB_VERSION and the
// struct size); Swift cannot import them.
static inline int herald_deflate_init_raw(z_stream *stream, int level, int windowBits) {
    return deflateInit2(stream, level, Z_DEFLATED, -windowBits, 8, Z_DEFAULT_STRATEGY);
}

static inline int herald_inflate_init_raw(z_stream *stream, int windowBits) {
    return inflateInit2(stream, -windowBits);
}
#endif
