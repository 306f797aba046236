// libzstd for HeraldClientZstd: the system's (Debian/Ubuntu libzstd-dev,
// Homebrew's zstd on macOS). Only the decompression API is used.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#include <zstd_errors.h>
