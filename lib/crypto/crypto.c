/* SPDX-License-Identifier: ISC */
/* The one file that includes sodium.h: see crypto.h. */
#include <sodium.h>
#include <string.h>

#include "crypto.h"
#include "sotto/error.h"

_Static_assert(sizeof(crypto_hash_sha256_state) <= sizeof(((sc_sha256_ctx *)0)->opaque),
    "sc_sha256_ctx too small");
_Static_assert(sizeof(crypto_auth_hmacsha256_state) <= sizeof(((sc_hmac_ctx *)0)->opaque),
    "sc_hmac_ctx too small");
_Static_assert(crypto_sign_PUBLICKEYBYTES == SC_SIGN_PUB && crypto_sign_SECRETKEYBYTES == SC_SIGN_SEC &&
    crypto_sign_BYTES == SC_SIG && crypto_scalarmult_BYTES == SC_KX_PUB &&
    crypto_aead_chacha20poly1305_IETF_NPUBBYTES == SC_AEAD_NONCE &&
    crypto_aead_chacha20poly1305_IETF_ABYTES == SC_AEAD_TAG &&
    crypto_aead_xchacha20poly1305_IETF_NPUBBYTES == SC_XAEAD_NONCE &&
    crypto_aead_xchacha20poly1305_IETF_ABYTES == SC_AEAD_TAG &&
    crypto_aead_xchacha20poly1305_IETF_KEYBYTES == SC_AEAD_KEY &&
    crypto_pwhash_argon2id_SALTBYTES == SC_PWHASH_SALT, "sizes disagree with libsodium");

int
sc_init(void)
{
	return sodium_init() < 0 ? SOTTO_ERR_CRYPTO : SOTTO_OK;
}

void sc_random(void *buf, size_t n) { randombytes_buf(buf, n); }
uint32_t sc_random_uniform(uint32_t upper) { return randombytes_uniform(upper); }

void
sc_sign_keypair(uint8_t pub[static SC_SIGN_PUB], uint8_t sec[static SC_SIGN_SEC])
{
	crypto_sign_ed25519_keypair(pub, sec);
}

int
sc_sign_seed_keypair(uint8_t pub[static SC_SIGN_PUB], uint8_t sec[static SC_SIGN_SEC],
    const uint8_t seed[static SC_SIGN_SEED])
{
	return crypto_sign_ed25519_seed_keypair(pub, sec, seed) == 0 ? SOTTO_OK : SOTTO_ERR_CRYPTO;
}

void
sc_sign(uint8_t sig[static SC_SIG], const uint8_t *m, size_t mlen, const uint8_t sec[static SC_SIGN_SEC])
{
	crypto_sign_ed25519_detached(sig, NULL, m, mlen, sec);
}

int
sc_verify(const uint8_t sig[static SC_SIG], const uint8_t *m, size_t mlen, const uint8_t pub[static SC_SIGN_PUB])
{
	return crypto_sign_ed25519_verify_detached(sig, m, mlen, pub) == 0 ? SOTTO_OK : SOTTO_ERR_BAD_SIGNATURE;
}

int
sc_sign_pub_valid(const uint8_t pub[static SC_SIGN_PUB])
{
	return crypto_core_ed25519_is_valid_point(pub) == 1;
}

void
sc_device_id(uint8_t id[static SC_DEVICE_ID], const uint8_t pub[static SC_SIGN_PUB])
{
	uint8_t h[SC_SHA512];

	crypto_hash_sha512(h, pub, SC_SIGN_PUB);
	memcpy(id, h, SC_DEVICE_ID);
}

void
sc_kx_keypair(uint8_t pub[static SC_KX_PUB], uint8_t sec[static SC_KX_SEC])
{
	randombytes_buf(sec, SC_KX_SEC);
	crypto_scalarmult_base(pub, sec);
}

int
sc_kx_public(uint8_t pub[static SC_KX_PUB], const uint8_t sec[static SC_KX_SEC])
{
	return crypto_scalarmult_base(pub, sec) == 0 ? SOTTO_OK : SOTTO_ERR_CRYPTO;
}

/*
 * Rather than a list of the known low-order encodings: a clamped scalar is a
 * multiple of 8, so its product with a point is all zero exactly when the
 * point's order divides the cofactor (8 on the curve, 4 on the twist),
 * whatever its encoding (u >= p, the top bit) — the very case in which every
 * later X25519 with the key fails (sc_x25519). The scalar is public: the key
 * checked is public too.
 */
int
sc_kx_pub_valid(const uint8_t pub[static SC_KX_PUB])
{
	static const uint8_t fixed[SC_KX_SEC] = { 0x09 };
	uint8_t out[32];
	int ok;

	ok = crypto_scalarmult(out, fixed, pub) == 0 && !sodium_is_zero(out, sizeof(out));
	sodium_memzero(out, sizeof(out));
	return ok;
}

int
sc_x25519(uint8_t out[static 32], const uint8_t sec[static SC_KX_SEC], const uint8_t pub[static SC_KX_PUB])
{
	/* libsodium returns -1 when the shared point is all zero. */
	return crypto_scalarmult(out, sec, pub) == 0 ? SOTTO_OK : SOTTO_ERR_CRYPTO;
}

void sc_sha256(uint8_t out[static SC_SHA256], const void *in, size_t n) { crypto_hash_sha256(out, in, n); }
void sc_sha256_init(sc_sha256_ctx *c) { crypto_hash_sha256_init((crypto_hash_sha256_state *)c->opaque); }
void sc_sha256_update(sc_sha256_ctx *c, const void *in, size_t n)
{
	crypto_hash_sha256_update((crypto_hash_sha256_state *)c->opaque, in, n);
}
void sc_sha256_final(sc_sha256_ctx *c, uint8_t out[static SC_SHA256])
{
	crypto_hash_sha256_final((crypto_hash_sha256_state *)c->opaque, out);
	sodium_memzero(c, sizeof(*c));
}
void sc_sha512(uint8_t out[static SC_SHA512], const void *in, size_t n) { crypto_hash_sha512(out, in, n); }

void
sc_hmac_sha256_init(sc_hmac_ctx *c, const uint8_t *key, size_t keylen)
{
	crypto_auth_hmacsha256_init((crypto_auth_hmacsha256_state *)c->opaque, key, keylen);
}
void
sc_hmac_sha256_update(sc_hmac_ctx *c, const void *in, size_t n)
{
	crypto_auth_hmacsha256_update((crypto_auth_hmacsha256_state *)c->opaque, in, n);
}
void
sc_hmac_sha256_final(sc_hmac_ctx *c, uint8_t out[static SC_SHA256])
{
	crypto_auth_hmacsha256_final((crypto_auth_hmacsha256_state *)c->opaque, out);
	sodium_memzero(c, sizeof(*c));
}

void
sc_aead_encrypt(uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *ad, size_t adlen,
    const uint8_t nonce[static SC_AEAD_NONCE], const uint8_t key[static SC_AEAD_KEY])
{
	crypto_aead_chacha20poly1305_ietf_encrypt(c, NULL, m, mlen, ad, adlen, NULL, nonce, key);
}

int
sc_aead_decrypt(uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad, size_t adlen,
    const uint8_t nonce[static SC_AEAD_NONCE], const uint8_t key[static SC_AEAD_KEY])
{
	if (clen < SC_AEAD_TAG)
		return SOTTO_ERR_DECRYPT;
	/* detached: m is written only after the tag verifies */
	return crypto_aead_chacha20poly1305_ietf_decrypt_detached(m, NULL, c, clen - SC_AEAD_TAG,
	    c + clen - SC_AEAD_TAG, ad, adlen, nonce, key) == 0 ? SOTTO_OK : SOTTO_ERR_DECRYPT;
}

void
sc_xaead_encrypt(uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *ad, size_t adlen,
    const uint8_t nonce[static SC_XAEAD_NONCE], const uint8_t key[static SC_AEAD_KEY])
{
	crypto_aead_xchacha20poly1305_ietf_encrypt(c, NULL, m, mlen, ad, adlen, NULL, nonce, key);
}

int
sc_xaead_decrypt(uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad, size_t adlen,
    const uint8_t nonce[static SC_XAEAD_NONCE], const uint8_t key[static SC_AEAD_KEY])
{
	if (clen < SC_AEAD_TAG)
		return SOTTO_ERR_DECRYPT;
	return crypto_aead_xchacha20poly1305_ietf_decrypt_detached(m, NULL, c, clen - SC_AEAD_TAG,
	    c + clen - SC_AEAD_TAG, ad, adlen, nonce, key) == 0 ? SOTTO_OK : SOTTO_ERR_DECRYPT;
}

int
sc_pwhash(uint8_t *out, size_t outlen, const char *pass, size_t passlen,
    const uint8_t salt[static SC_PWHASH_SALT], uint64_t opslimit, size_t memlimit)
{
	if (crypto_pwhash(out, outlen, pass, passlen, salt, opslimit, memlimit,
	    crypto_pwhash_ALG_ARGON2ID13) != 0)
		return SOTTO_ERR_NOMEM;
	return SOTTO_OK;
}
uint64_t sc_pwhash_opslimit_default(void) { return crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE; }
size_t sc_pwhash_memlimit_default(void) { return crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE; }
uint64_t sc_pwhash_opslimit_min(void) { return crypto_pwhash_argon2id_OPSLIMIT_MIN; }
size_t sc_pwhash_memlimit_min(void) { return crypto_pwhash_argon2id_MEMLIMIT_MIN; }

int sc_memeq(const void *a, const void *b, size_t n) { return sodium_memcmp(a, b, n) == 0; }
int sc_is_zero(const void *p, size_t n) { return sodium_is_zero(p, n); }
void sc_wipe(void *p, size_t n) { if (p != NULL) sodium_memzero(p, n); }
void *sc_secure_alloc(size_t n) { return sodium_malloc(n); }
void sc_secure_free(void *p) { if (p != NULL) sodium_free(p); }

int
sc_pad(size_t *padded_len, uint8_t *buf, size_t unpadded_len, size_t blocksize, size_t max)
{
	return sodium_pad(padded_len, buf, unpadded_len, blocksize, max) == 0 ? SOTTO_OK : SOTTO_ERR_TOO_LARGE;
}

int
sc_unpad(size_t *unpadded_len, const uint8_t *buf, size_t padded_len, size_t blocksize)
{
	return sodium_unpad(unpadded_len, buf, padded_len, blocksize) == 0 ? SOTTO_OK : SOTTO_ERR_FORMAT;
}

void sc_hex(char *out, const uint8_t *in, size_t n) { sodium_bin2hex(out, n * 2 + 1, in, n); }

int
sc_unhex(uint8_t *out, size_t outmax, size_t *outlen, const char *hex, size_t hexlen)
{
	const char *end;

	if (sodium_hex2bin(out, outmax, hex, hexlen, NULL, outlen, &end) != 0 || end != hex + hexlen)
		return SOTTO_ERR_FORMAT;
	return SOTTO_OK;
}

size_t sc_b64_len(size_t n) { return sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING); }

void
sc_b64(char *out, size_t outmax, const uint8_t *in, size_t n)
{
	sodium_bin2base64(out, outmax, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int
sc_unb64(uint8_t *out, size_t outmax, size_t *outlen, const char *b64, size_t b64len)
{
	const char *end;
	unsigned char high = 0;
	size_t i;

	/*
	 * libsodium 1.0.18 decodes every byte >= 0x80 as '_' (63), so one code
	 * would have many spellings. Refuse them first, without a data-dependent
	 * branch: the text may be a key.
	 */
	for (i = 0; i < b64len; i++)
		high |= (unsigned char)b64[i];
	if ((high & 0x80) != 0) {
		*outlen = 0;
		return SOTTO_ERR_FORMAT;
	}
	if (sodium_base642bin(out, outmax, b64, b64len, NULL, outlen, &end,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 || end != b64 + b64len)
		return SOTTO_ERR_FORMAT;
	return SOTTO_OK;
}
