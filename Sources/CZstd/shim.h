// Debian's libzstd (libzstd-dev) for the herald.zstd.v1 subprotocol: only
// HeraldCompression imports it. ZDICT for trained dictionaries.
#ifndef HERALD_CZSTD_SHIM_H
#define HERALD_CZSTD_SHIM_H
#include <zstd.h>
#include <zdict.h>
#endif
