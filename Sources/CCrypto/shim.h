// libcrypto's digests for HeraldProtocol (SHA-1 for the WebSocket accept
// value, SHA-256 and HMAC-SHA256 for tokens and idempotency keys, a
// constant-time compare): one crypto library for the whole server (issue
// 10), with the CPU's SHA extensions where it has them. Only these headers:
// the TLS side (libssl) is COpenSSL's.
#ifndef HERALD_CCRYPTO_SHIM_H
#define HERALD_CCRYPTO_SHIM_H
// SHA1_Init/Update/Final and SHA256_*: deprecated in OpenSSL 3.0 but kept,
// and ~4x faster for a handshake's 60 bytes than the one-shot SHA1(), which
// in 3.0 fetches the algorithm from the provider (locks, a property cache)
// and allocates a context on every call: 115 ns against 443 ns here.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <openssl/hmac.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#endif
