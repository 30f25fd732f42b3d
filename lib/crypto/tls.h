/* SPDX-License-Identifier: ISC */
/*
 * The TLS helpers that need OpenSSL directly: making sottod's self-signed key
 * and certificate, and computing the key pin clients check. tls.c is the only
 * Sotto file that calls OpenSSL (libwebsockets drives the TLS sessions).
 *
 * Pin: SHA-256 of the server certificate's SubjectPublicKeyInfo (DER), written
 * as 43 characters of unpadded base64url.
 */
#ifndef SOTTO_TLS_H
#define SOTTO_TLS_H

#include <stddef.h>
#include <stdint.h>

#define TLS_PIN_LEN 32
#define TLS_PIN_TEXT_LEN 43

/* Make an ECDSA P-256 key (written 0600, O_EXCL) and a self-signed certificate
 * for common_name, valid for 10 years. */
int tls_make_selfsigned(const char *key_path, const char *cert_path, const char *common_name)
    __attribute__((warn_unused_result));
int tls_pin_from_cert_file(const char *cert_path, uint8_t pin[static TLS_PIN_LEN])
    __attribute__((warn_unused_result));
/* x509 is an X509 *, ssl an SSL * (opaque here so callers need no OpenSSL headers). */
int tls_pin_from_x509(void *x509, uint8_t pin[static TLS_PIN_LEN]) __attribute__((warn_unused_result));
int tls_pin_from_ssl_peer(void *ssl, uint8_t pin[static TLS_PIN_LEN]) __attribute__((warn_unused_result));
/* Text form; out holds TLS_PIN_TEXT_LEN + 1 bytes. */
void tls_pin_to_text(char *out, const uint8_t pin[static TLS_PIN_LEN]);
int tls_pin_from_text(uint8_t pin[static TLS_PIN_LEN], const char *text) __attribute__((warn_unused_result));

/* Server side, for sottod's libwebsockets vhost: the SSL option bits that leave
 * TLS 1.3 as the only protocol (for ssl_options_set), and a hook that also sets
 * the minimum protocol version on the server's SSL_CTX (passed as void *). */
long tls_server_options(void);
int tls_server_ctx_setup(void *ssl_ctx) __attribute__((warn_unused_result));
/* Read-ahead on an established server connection (ssl: its SSL *): once
 * tls_read_ahead_init has run, every record the socket holds is read at once,
 * and on_records(user) is called whenever one of its records was read: the
 * records after it may wait in OpenSSL's buffer, which tls_record_buffered
 * tells. user NULL: on_records is not called any more (the connection is
 * going). */
int tls_read_ahead_init(void) __attribute__((warn_unused_result));
int tls_conn_read_ahead(void *ssl, void (*on_records)(void *user), void *user);
/* 1: a whole record (or an error, or the peer's close) waits in ssl's buffer
 * for the next SSL_read; 0: nothing, or only part of a record. */
int tls_record_buffered(void *ssl);
/* Server side: 1 once the peer's ClientHello has been read (the handshake is
 * under way: the peer speaks TLS), 0 while nothing came (or ssl is NULL). */
int tls_handshake_begun(void *ssl);

/* Client side: pin of the certificate being checked in an OpenSSL verify
 * callback; store_ctx is the X509_STORE_CTX * (libwebsockets passes it as `user`
 * to LWS_CALLBACK_OPENSSL_PERFORM_SERVER_CERT_VERIFICATION). */
int tls_pin_from_store_ctx(void *store_ctx, uint8_t pin[static TLS_PIN_LEN])
    __attribute__((warn_unused_result));

#endif
