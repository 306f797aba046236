// libcrypto's digests for HeraldProtocol (SHA-1 for the WebSocket accept
// value, SHA-256 and HMAC-SHA256 for tokens and idempotency keys, a
// constant-time compare): one crypto library for the whole server (issue
// 10), with the CPU's SHA extensions where it has them. Only these headers:
// the TLS side (libssl) is COpenSSL's.
#ifndef HERALD_CCRYPTO_SHIM_H
#define HERALD_CCRYPTO_SHIM_H
#include <openssl/sha.h>
#include <openssl/hmac.h>
#include <openssl/evp.h>
#include <openssl/crypto.h>
#endif
