// OpenSSL 3 (Debian's libssl-dev) for TLS on the public listener: only
// HeraldTLS imports it. Each helper wraps a macro Swift cannot import.
#ifndef HERALD_COPENSSL_SHIM_H
#define HERALD_COPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/core_names.h>

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

// No server-side session cache: resumption is by stateless tickets (RFC
// 8446 §4.6.1, RFC 5077), whose keys live in the SSL_CTX. The cache would
// keep up to 20,480 SSL_SESSIONs (~1-2 KB each) of connections long gone.
static inline void herald_ssl_ctx_no_session_cache(SSL_CTX *ctx) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
}

// SSL_set_app_data/SSL_get_app_data are macros over ex_data index 0.
static inline void herald_ssl_set_app_data(SSL *ssl, void *data) { SSL_set_app_data(ssl, data); }
static inline void *herald_ssl_get_app_data(const SSL *ssl) { return SSL_get_app_data(ssl); }

// Session tickets: the HMAC key and digest of a ticket (RFC 5077 §4's
// HMAC-SHA256) go to OpenSSL as an OSSL_PARAM array, a C construct.
static inline int herald_ticket_mac_init(EVP_MAC_CTX *mac, const unsigned char *key, size_t keyBytes) {
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)key, keyBytes);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();
    return EVP_MAC_CTX_set_params(mac, params);
}

// For the tests' OpenSSL client (Tests/HeraldTLSTests): macros over SSL_CTX_ctrl.
static inline void herald_test_ssl_ctx_max_version(SSL_CTX *ctx, int version) {
    SSL_CTX_set_max_proto_version(ctx, version);
}
static inline void herald_test_ssl_ctx_client_cache(SSL_CTX *ctx) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
}
#endif
