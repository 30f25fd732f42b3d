/* SPDX-License-Identifier: ISC */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "crypto.h"
#include "sotto/error.h"
#include "tls.h"

#define TLS_CERT_DAYS (10 * 365)

/*
 * The private key is created exclusively, 0600, and never through a symlink,
 * so a pre-planted file or link cannot capture or expose it.
 */
static int
write_key(const char *path, EVP_PKEY *pkey)
{
	FILE *f = NULL;
	int fd, rc = SOTTO_ERR_IO;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		rc = errno == EEXIST ? SOTTO_ERR_EXISTS : SOTTO_ERR_IO;
		goto out;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		goto out;
	}
	if (PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL) != 1)
		goto out;
	if (fflush(f) != 0 || fsync(fileno(f)) != 0)
		goto out;
	rc = SOTTO_OK;
out:
	if (f != NULL && fclose(f) != 0 && rc == SOTTO_OK)
		rc = SOTTO_ERR_IO;
	if (rc != SOTTO_OK && rc != SOTTO_ERR_EXISTS)
		unlink(path);
	return rc;
}

static int
write_cert(const char *path, X509 *x)
{
	FILE *f = NULL;
	int fd, rc = SOTTO_ERR_IO;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)) == -1) {
		rc = errno == EEXIST ? SOTTO_ERR_EXISTS : SOTTO_ERR_IO;
		goto out;
	}
	if ((f = fdopen(fd, "w")) == NULL) {
		close(fd);
		goto out;
	}
	if (PEM_write_X509(f, x) != 1 || fflush(f) != 0 || fsync(fileno(f)) != 0)
		goto out;
	rc = SOTTO_OK;
out:
	if (f != NULL && fclose(f) != 0 && rc == SOTTO_OK)
		rc = SOTTO_ERR_IO;
	if (rc != SOTTO_OK && rc != SOTTO_ERR_EXISTS)
		unlink(path);
	return rc;
}

int
tls_make_selfsigned(const char *key_path, const char *cert_path, const char *common_name)
{
	EVP_PKEY *pkey = NULL;
	X509 *x = NULL;
	X509_NAME *name;
	uint8_t serial[16];
	BIGNUM *bn = NULL;
	int rc = SOTTO_ERR_TLS;

	if (common_name == NULL || *common_name == '\0')
		return SOTTO_ERR_INVALID_ARG;
	if ((pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
		goto out;
	if ((x = X509_new()) == NULL)
		goto out;
	/* A random positive serial, as RFC 5280 asks (at most 20 octets). */
	sc_random(serial, sizeof(serial));
	serial[0] &= 0x7f;
	serial[0] |= 0x01;
	if ((bn = BN_bin2bn(serial, sizeof(serial), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto out;
	if (X509_set_version(x, 2) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), TLS_CERT_DAYS, 0, NULL) == NULL ||
	    X509_set_pubkey(x, pkey) != 1)
		goto out;
	if ((name = X509_get_subject_name(x)) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)common_name, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1)
		goto out;
	if (X509_sign(x, pkey, EVP_sha256()) == 0)
		goto out;
	if ((rc = write_key(key_path, pkey)) != SOTTO_OK)
		goto out;
	if ((rc = write_cert(cert_path, x)) != SOTTO_OK) {
		unlink(key_path);
		goto out;
	}
	rc = SOTTO_OK;
out:
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return rc;
}

int
tls_pin_from_x509(void *x509, uint8_t pin[static TLS_PIN_LEN])
{
	X509_PUBKEY *pk;
	unsigned char *der = NULL;
	int len, rc = SOTTO_ERR_TLS;

	memset(pin, 0, TLS_PIN_LEN);
	if (x509 == NULL || (pk = X509_get_X509_PUBKEY((X509 *)x509)) == NULL)
		goto out;
	if ((len = i2d_X509_PUBKEY(pk, &der)) <= 0)
		goto out;
	sc_sha256(pin, der, (size_t)len);
	rc = SOTTO_OK;
out:
	OPENSSL_free(der);
	return rc;
}

int
tls_pin_from_cert_file(const char *cert_path, uint8_t pin[static TLS_PIN_LEN])
{
	FILE *f = NULL;
	X509 *x = NULL;
	int rc = SOTTO_ERR_IO;

	memset(pin, 0, TLS_PIN_LEN);
	if ((f = fopen(cert_path, "re")) == NULL)
		goto out;
	rc = SOTTO_ERR_TLS;
	if ((x = PEM_read_X509(f, NULL, NULL, NULL)) == NULL)
		goto out;
	rc = tls_pin_from_x509(x, pin);
out:
	X509_free(x);
	if (f != NULL)
		fclose(f);
	return rc;
}

int
tls_pin_from_ssl_peer(void *ssl, uint8_t pin[static TLS_PIN_LEN])
{
	X509 *x;
	int rc;

	memset(pin, 0, TLS_PIN_LEN);
	if (ssl == NULL || (x = SSL_get1_peer_certificate((SSL *)ssl)) == NULL)
		return SOTTO_ERR_TLS;
	rc = tls_pin_from_x509(x, pin);
	X509_free(x);
	return rc;
}

void
tls_pin_to_text(char *out, const uint8_t pin[static TLS_PIN_LEN])
{
	sc_b64(out, TLS_PIN_TEXT_LEN + 1, pin, TLS_PIN_LEN);
}

int
tls_pin_from_text(uint8_t pin[static TLS_PIN_LEN], const char *text)
{
	size_t n;

	memset(pin, 0, TLS_PIN_LEN);
	if (text == NULL || strnlen(text, TLS_PIN_TEXT_LEN + 1) != TLS_PIN_TEXT_LEN)
		return SOTTO_ERR_FORMAT;
	if (sc_unb64(pin, TLS_PIN_LEN, &n, text, TLS_PIN_TEXT_LEN) != SOTTO_OK || n != TLS_PIN_LEN) {
		memset(pin, 0, TLS_PIN_LEN);
		return SOTTO_ERR_FORMAT;
	}
	return SOTTO_OK;
}

long
tls_server_options(void)
{
	return SSL_OP_NO_SSLv3 | SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_TLSv1_2 |
	    SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION;
}

int
tls_server_ctx_setup(void *ssl_ctx)
{
	if (ssl_ctx == NULL || SSL_CTX_set_min_proto_version((SSL_CTX *)ssl_ctx, TLS1_3_VERSION) != 1)
		return SOTTO_ERR_TLS;
	return SOTTO_OK;
}

/*
 * Read-ahead on an established connection: one read() takes every record the
 * socket holds instead of two reads (header, then body) per record. The
 * records beyond the first then wait in OpenSSL's buffer, where no poll sees
 * them; the record callback names the connection whose records were read, so
 * that its owner can have them read (tls_record_buffered). Only once the
 * connection is established: during the handshake and the HTTP upgrade the
 * owner (libwebsockets) would not look for records read ahead.
 */
static int conn_user_idx = -1;

static void
msg_cb(int write_p, int version, int content_type, const void *buf, size_t len, SSL *ssl, void *arg)
{
	void (*on_records)(void *) = (void (*)(void *))arg;
	void *user;

	(void)version;
	(void)buf;
	(void)len;
	if (write_p || content_type != SSL3_RT_HEADER || conn_user_idx < 0)
		return;
	if ((user = SSL_get_ex_data(ssl, conn_user_idx)) != NULL)
		on_records(user);
}

int
tls_conn_read_ahead(void *ssl, void (*on_records)(void *user), void *user)
{
	if (ssl == NULL || conn_user_idx < 0)
		return SOTTO_ERR_TLS;
	if (SSL_set_ex_data(ssl, conn_user_idx, user) != 1)
		return SOTTO_ERR_TLS;
	if (user == NULL)
		return SOTTO_OK;
	SSL_set_msg_callback(ssl, msg_cb);
	SSL_set_msg_callback_arg(ssl, (void *)on_records);
	SSL_set_read_ahead(ssl, 1);
	return SOTTO_OK;
}

int
tls_read_ahead_init(void)
{
	if (conn_user_idx < 0)
		conn_user_idx = SSL_get_ex_new_index(0, (void *)"sotto conn", NULL, NULL, NULL);
	return conn_user_idx < 0 ? SOTTO_ERR_TLS : SOTTO_OK;
}

int
tls_handshake_begun(void *ssl)
{
	/* A server's state stays TLS_ST_BEFORE until a ClientHello is processed. */
	return ssl != NULL && SSL_get_state(ssl) != TLS_ST_BEFORE;
}

int
tls_record_buffered(void *ssl)
{
	unsigned char b;
	int n, e;

	if (ssl == NULL || !SSL_has_pending(ssl))
		return 0;
	/* Decrypts the next record (kept for the next SSL_read); only a record
	 * still incomplete waits for the socket. An error or a close is left
	 * for the owner's read to find. */
	ERR_clear_error();
	if ((n = SSL_peek(ssl, &b, 1)) > 0)
		return 1;
	e = SSL_get_error(ssl, n);
	ERR_clear_error();
	return e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
}

int
tls_pin_from_store_ctx(void *store_ctx, uint8_t pin[static TLS_PIN_LEN])
{
	X509 *x;

	memset(pin, 0, TLS_PIN_LEN);
	if (store_ctx == NULL ||
	    (x = X509_STORE_CTX_get_current_cert((X509_STORE_CTX *)store_ctx)) == NULL)
		return SOTTO_ERR_TLS;
	return tls_pin_from_x509(x, pin);
}
