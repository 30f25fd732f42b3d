/* SPDX-License-Identifier: ISC */
/*
 * Thin, named wrappers over libsodium. crypto.c is the only file in Sotto that
 * includes sodium.h; everything cryptographic above it is composition of these
 * (HKDF in hkdf.c, HPKE in hpke.c, the envelope, device lists, key files).
 *
 * Functions that verify, decrypt or draw randomness return a sotto_err and must
 * have their result checked.
 */
#ifndef SOTTO_CRYPTO_H
#define SOTTO_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define SC_WUR __attribute__((warn_unused_result))

#define SC_SIGN_PUB 32		/* Ed25519 public key */
#define SC_SIGN_SEC 64		/* Ed25519 secret key (seed || public) */
#define SC_SIGN_SEED 32
#define SC_SIG 64		/* Ed25519 signature */
#define SC_KX_PUB 32		/* X25519 public key */
#define SC_KX_SEC 32		/* X25519 secret key */
#define SC_SHA256 32
#define SC_SHA512 64
#define SC_AEAD_KEY 32		/* ChaCha20-Poly1305 (IETF) */
#define SC_AEAD_NONCE 12
#define SC_AEAD_TAG 16
#define SC_XAEAD_NONCE 24	/* XChaCha20-Poly1305: long enough to draw at random */
#define SC_PWHASH_SALT 16	/* Argon2id */
#define SC_DEVICE_ID 16		/* first 16 bytes of SHA-512(signing public key) */

/* Must be called once before anything else; SOTTO_OK or SOTTO_ERR_CRYPTO. */
int sc_init(void) SC_WUR;

void sc_random(void *buf, size_t n);
uint32_t sc_random_uniform(uint32_t upper);

/* Ed25519 */
void sc_sign_keypair(uint8_t pub[static SC_SIGN_PUB], uint8_t sec[static SC_SIGN_SEC]);
int sc_sign_seed_keypair(uint8_t pub[static SC_SIGN_PUB], uint8_t sec[static SC_SIGN_SEC],
    const uint8_t seed[static SC_SIGN_SEED]) SC_WUR;
void sc_sign(uint8_t sig[static SC_SIG], const uint8_t *m, size_t mlen,
    const uint8_t sec[static SC_SIGN_SEC]);
/* SOTTO_OK or SOTTO_ERR_BAD_SIGNATURE */
int sc_verify(const uint8_t sig[static SC_SIG], const uint8_t *m, size_t mlen,
    const uint8_t pub[static SC_SIGN_PUB]) SC_WUR;
/* 1 if pub is an Ed25519 public key worth a signature check: the canonical
 * encoding of a point on the curve, in the prime-order subgroup, not of small
 * order (libsodium crypto_core_ed25519_is_valid_point); else 0. */
int sc_sign_pub_valid(const uint8_t pub[static SC_SIGN_PUB]) SC_WUR;
/* device_id = SHA-512(pub)[0..16) */
void sc_device_id(uint8_t id[static SC_DEVICE_ID], const uint8_t pub[static SC_SIGN_PUB]);

/* X25519 */
void sc_kx_keypair(uint8_t pub[static SC_KX_PUB], uint8_t sec[static SC_KX_SEC]);
int sc_kx_public(uint8_t pub[static SC_KX_PUB], const uint8_t sec[static SC_KX_SEC]) SC_WUR;
/* 1 if pub is an X25519 public key a shared secret can be made with: not of
 * small order, in any encoding (its product with a fixed clamped scalar is
 * not all zero); else 0. */
int sc_kx_pub_valid(const uint8_t pub[static SC_KX_PUB]) SC_WUR;
/* SOTTO_ERR_CRYPTO if the result is the all-zero point (RFC 7748 section 6.1). */
int sc_x25519(uint8_t out[static 32], const uint8_t sec[static SC_KX_SEC],
    const uint8_t pub[static SC_KX_PUB]) SC_WUR;

/* Hashes */
typedef struct sc_sha256_ctx {
	_Alignas(16) unsigned char opaque[128];
} sc_sha256_ctx;
void sc_sha256(uint8_t out[static SC_SHA256], const void *in, size_t n);
void sc_sha256_init(sc_sha256_ctx *c);
void sc_sha256_update(sc_sha256_ctx *c, const void *in, size_t n);
void sc_sha256_final(sc_sha256_ctx *c, uint8_t out[static SC_SHA256]);
void sc_sha512(uint8_t out[static SC_SHA512], const void *in, size_t n);

/* HMAC-SHA256 with a key of any length (RFC 2104). */
typedef struct sc_hmac_ctx {
	_Alignas(16) unsigned char opaque[256];
} sc_hmac_ctx;
void sc_hmac_sha256_init(sc_hmac_ctx *c, const uint8_t *key, size_t keylen);
void sc_hmac_sha256_update(sc_hmac_ctx *c, const void *in, size_t n);
void sc_hmac_sha256_final(sc_hmac_ctx *c, uint8_t out[static SC_SHA256]);

/* ChaCha20-Poly1305 (IETF, RFC 8439). c must hold mlen + SC_AEAD_TAG bytes. */
void sc_aead_encrypt(uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *ad, size_t adlen,
    const uint8_t nonce[static SC_AEAD_NONCE], const uint8_t key[static SC_AEAD_KEY]);
/* m must hold clen - SC_AEAD_TAG bytes; no plaintext is written unless the tag checks
 * (on failure m is zeroed).
 * SOTTO_OK or SOTTO_ERR_DECRYPT. */
int sc_aead_decrypt(uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad, size_t adlen,
    const uint8_t nonce[static SC_AEAD_NONCE], const uint8_t key[static SC_AEAD_KEY]) SC_WUR;

/* XChaCha20-Poly1305 (IETF), the same contract as sc_aead_*: for keys that seal
 * many values, each under a fresh random nonce (192 bits: no birthday bound to
 * mind). */
void sc_xaead_encrypt(uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *ad, size_t adlen,
    const uint8_t nonce[static SC_XAEAD_NONCE], const uint8_t key[static SC_AEAD_KEY]);
int sc_xaead_decrypt(uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad, size_t adlen,
    const uint8_t nonce[static SC_XAEAD_NONCE], const uint8_t key[static SC_AEAD_KEY]) SC_WUR;

/* Argon2id (crypto_pwhash ALG_ARGON2ID13). SOTTO_ERR_NOMEM if memlimit cannot be had. */
int sc_pwhash(uint8_t *out, size_t outlen, const char *pass, size_t passlen,
    const uint8_t salt[static SC_PWHASH_SALT], uint64_t opslimit, size_t memlimit) SC_WUR;
uint64_t sc_pwhash_opslimit_default(void);	/* libsodium INTERACTIVE: a CLI unlocks often */
size_t sc_pwhash_memlimit_default(void);
uint64_t sc_pwhash_opslimit_min(void);
size_t sc_pwhash_memlimit_min(void);

/* Constant-time equality: 1 if equal, 0 if not. */
int sc_memeq(const void *a, const void *b, size_t n);
int sc_is_zero(const void *p, size_t n);
void sc_wipe(void *p, size_t n);

/* Guarded memory for long-lived secrets (sodium_malloc); sc_secure_free wipes, accepts NULL. */
void *sc_secure_alloc(size_t n);
void sc_secure_free(void *p);

/* ISO/IEC 7816-4 padding to a multiple of blocksize (sodium_pad). buf has max bytes.
 * Returns SOTTO_OK and the padded length, or SOTTO_ERR_TOO_LARGE. */
int sc_pad(size_t *padded_len, uint8_t *buf, size_t unpadded_len, size_t blocksize, size_t max) SC_WUR;
int sc_unpad(size_t *unpadded_len, const uint8_t *buf, size_t padded_len, size_t blocksize) SC_WUR;

/* Hex (lower case) and base64url without padding, constant time in the data.
 * Encoders write a NUL-terminated string: hex needs 2n+1, b64 sc_b64_len(n). */
void sc_hex(char *out, const uint8_t *in, size_t n);
int sc_unhex(uint8_t *out, size_t outmax, size_t *outlen, const char *hex, size_t hexlen) SC_WUR;
size_t sc_b64_len(size_t n);
void sc_b64(char *out, size_t outmax, const uint8_t *in, size_t n);
int sc_unb64(uint8_t *out, size_t outmax, size_t *outlen, const char *b64, size_t b64len) SC_WUR;

#endif
