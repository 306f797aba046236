// OpenSSL 3 (Debian's libssl-dev) for TLS on the public listener: only
// HeraldTLS imports it. Each helper wraps a macro Swift cannot import.
#ifndef HERALD_COPENSSL_SHIM_H
#define HERALD_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/bio.h>

static inline long herald_ssl_ctx_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
static inline long herald_ssl_mode_release_buffers(void) { return SSL_MODE_RELEASE_BUFFERS; }

// TLS 1.2 and 1.3 only (CONTRACT "Security").
static inline int herald_ssl_ctx_tls12_minimum(SSL_CTX *ctx) {
    return (int)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
}

// No renegotiation (a CPU sink for a hostile client, and unneeded), no
// compression (CRIME), the server's cipher order.
static inline void herald_ssl_ctx_harden(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
}

// What a memory BIO's buffer holds allocated (it keeps its largest size
// after the bytes are read out).
static inline size_t herald_bio_mem_capacity(BIO *bio) {
    BUF_MEM *memory = NULL;
    BIO_get_mem_ptr(bio, &memory);
    return memory == NULL ? 0 : memory->max;
}

// A memory BIO that is empty answers "retry", not EOF: more records come.
static inline void herald_bio_mem_retry_when_empty(BIO *bio) { BIO_set_mem_eof_return(bio, -1); }

// ALPN (RFC 7301): WebSocket upgrades are HTTP/1.1; a client offering
// only something else gets no ALPN answer, not a failed handshake.
static int herald_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                              const unsigned char *in, unsigned int inlen, void *arg) {
    (void)ssl; (void)arg;
    static const unsigned char http11[] = { 8, 'h', 't', 't', 'p', '/', '1', '.', '1' };
    if (SSL_select_next_proto((unsigned char **)out, outlen, http11, sizeof http11, in, inlen) == OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

static inline void herald_ssl_ctx_alpn_http11(SSL_CTX *ctx) { SSL_CTX_set_alpn_select_cb(ctx, herald_alpn_select, NULL); }
#endif
