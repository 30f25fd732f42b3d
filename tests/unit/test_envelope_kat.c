/* SPDX-License-Identifier: ISC */
/*
 * Envelope v1 against an independent computation (docs/PROTOCOL.md,
 * lib/protocol/envelope.h), so that a change to what reaches the AEAD and
 * HPKE fails here even when sealing and opening change together (a round trip
 * cannot see that):
 * - seal: the header bytes, the body (ChaCha20-Poly1305 under K with the
 *   header as associated data, over the content padded to its bucket) and the
 *   signature are recomputed from libsodium and compared byte for byte; K is
 *   taken back from the wrap with the info and aad the format names (HPKE
 *   itself is pinned by RFC 9180's vectors in test_hpke).
 * - open: envelopes built here, valid but for one binding (associated data,
 *   info, aad, padding bucket, padding), must be refused.
 * - order: the signature is checked before anything is decrypted. The test
 *   links with -Wl,--wrap=hpke_open_base,--wrap=sc_aead_decrypt
 *   (tests/CMakeLists.txt): every call envelope.c makes to them passes through
 *   the counters below, with no hook in the library.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sodium.h>

#include "crypto.h"
#include "envelope.h"
#include "hpke.h"
#include "sotto/error.h"

/* ---- the link-time wrappers: what reaches HPKE's open and the AEAD's decrypt ---- */

int __real_hpke_open_base(uint8_t *pt, const uint8_t enc[static HPKE_ENC_LEN],
    const uint8_t skR[static 32], const uint8_t *info, size_t infolen, const uint8_t *aad,
    size_t aadlen, const uint8_t *ct, size_t ctlen);
int __wrap_hpke_open_base(uint8_t *pt, const uint8_t enc[static HPKE_ENC_LEN],
    const uint8_t skR[static 32], const uint8_t *info, size_t infolen, const uint8_t *aad,
    size_t aadlen, const uint8_t *ct, size_t ctlen);
int __real_sc_aead_decrypt(uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad,
    size_t adlen, const uint8_t nonce[static SC_AEAD_NONCE], const uint8_t key[static SC_AEAD_KEY]);
int __wrap_sc_aead_decrypt(uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad,
    size_t adlen, const uint8_t nonce[static SC_AEAD_NONCE], const uint8_t key[static SC_AEAD_KEY]);

static size_t n_hpke_open, n_aead_decrypt;
static int in_hpke;	/* HPKE's own AEAD open (of K) is not the body's */
static uint8_t last_ad[SOTTO_MAX_HEADER];
static size_t last_ad_len;

int
__wrap_hpke_open_base(uint8_t *pt, const uint8_t enc[static HPKE_ENC_LEN],
    const uint8_t skR[static 32], const uint8_t *info, size_t infolen, const uint8_t *aad,
    size_t aadlen, const uint8_t *ct, size_t ctlen)
{
	int rc;

	n_hpke_open++;
	in_hpke = 1;
	rc = __real_hpke_open_base(pt, enc, skR, info, infolen, aad, aadlen, ct, ctlen);
	in_hpke = 0;
	return rc;
}

int
__wrap_sc_aead_decrypt(uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad,
    size_t adlen, const uint8_t nonce[static SC_AEAD_NONCE], const uint8_t key[static SC_AEAD_KEY])
{
	if (in_hpke)
		return __real_sc_aead_decrypt(m, c, clen, ad, adlen, nonce, key);
	n_aead_decrypt++;
	last_ad_len = adlen <= sizeof(last_ad) ? adlen : sizeof(last_ad);
	if (ad != NULL)
		memcpy(last_ad, ad, last_ad_len);
	return __real_sc_aead_decrypt(m, c, clen, ad, adlen, nonce, key);
}

static void
counters_reset(void)
{
	n_hpke_open = 0;
	n_aead_decrypt = 0;
	last_ad_len = 0;
}

/* ---- fixed keys: derived from fixed seeds with libsodium alone ---- */

typedef struct kdev {
	uint8_t sig_pub[crypto_sign_PUBLICKEYBYTES], sig_sec[crypto_sign_SECRETKEYBYTES];
	uint8_t enc_pub[crypto_scalarmult_BYTES], enc_sec[crypto_scalarmult_SCALARBYTES];
	uint8_t id[SC_DEVICE_ID];
} kdev;

static kdev alice, bob, bob2, carol;

static void
kdev_make(kdev *d, uint8_t tag)
{
	uint8_t seed[crypto_sign_SEEDBYTES], h[crypto_hash_sha512_BYTES];

	memset(seed, tag, sizeof(seed));
	assert_int_equal(crypto_sign_seed_keypair(d->sig_pub, d->sig_sec, seed), 0);
	memset(d->enc_sec, tag ^ 0x5c, sizeof(d->enc_sec));
	assert_int_equal(crypto_scalarmult_base(d->enc_pub, d->enc_sec), 0);
	crypto_hash_sha512(h, d->sig_pub, sizeof(d->sig_pub));
	memcpy(d->id, h, SC_DEVICE_ID);	/* device id: SHA-512(signing key)[0..16) */
}

static int
setup(void **state)
{
	(void)state;
	assert_int_equal(sc_init(), SOTTO_OK);
	kdev_make(&alice, 0xa1);
	kdev_make(&bob, 0xb1);
	kdev_make(&bob2, 0xb2);
	kdev_make(&carol, 0xc1);
	return 0;
}

/* ---- the format, written out by hand ---- */

typedef struct kbuf {
	uint8_t p[SOTTO_MAX_ENVELOPE];
	size_t n;
} kbuf;

static void
put(kbuf *b, const void *p, size_t n)
{
	assert_true(n <= sizeof(b->p) - b->n);
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void
put_be(kbuf *b, uint64_t v, size_t width)
{
	uint8_t x[8];

	for (size_t i = 0; i < width; i++)
		x[i] = (uint8_t)(v >> (8 * (width - 1 - i)));
	put(b, x, width);
}

static void
put_str8(kbuf *b, const char *s)
{
	put_be(b, strlen(s), 1);
	put(b, s, strlen(s));
}

static const uint8_t MSG_ID[ENV_MSG_ID_LEN] = {
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f
};
#define SENT_AT 1767225600123ULL
#define SIGN_LABEL "sotto-envelope-v1"
#define WRAP_LABEL "sotto-wrap-v1"

/* header = u8 1 || msg_id || str8 sender || device id || u64 sent_at || u8 n || n x str8 */
static void
kat_header(kbuf *h, const char *sender, const kdev *dev, const char *const *to, size_t n)
{
	h->n = 0;
	put_be(h, 1, 1);
	put(h, MSG_ID, sizeof(MSG_ID));
	put_str8(h, sender);
	put(h, dev->id, SC_DEVICE_ID);
	put_be(h, SENT_AT, 8);
	put_be(h, n, 1);
	for (size_t i = 0; i < n; i++)
		put_str8(h, to[i]);
}

static void
api_header(env_header *h, const char *sender, const kdev *dev, const char *const *to, size_t n)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->msg_id, MSG_ID, sizeof(MSG_ID));
	snprintf(h->sender, sizeof(h->sender), "%s", sender);
	memcpy(h->sender_device, dev->id, SC_DEVICE_ID);
	h->sent_at = SENT_AT;
	h->n_recipients = n;
	for (size_t i = 0; i < n; i++)
		snprintf(h->recipients[i], sizeof(h->recipients[i]), "%s", to[i]);
}

/* info = "sotto-wrap-v1" || 0x00 || SHA-256(header) */
static size_t
kat_info(uint8_t *info, const uint8_t *header, size_t header_len)
{
	memcpy(info, WRAP_LABEL, sizeof(WRAP_LABEL));
	crypto_hash_sha256(info + sizeof(WRAP_LABEL), header, header_len);
	return sizeof(WRAP_LABEL) + crypto_hash_sha256_BYTES;
}

/* The smallest power of two >= 256 that holds len + 1 (the 0x80 marker). */
static size_t
kat_bucket(size_t len)
{
	size_t b = 256;

	while (b < len + 1)
		b *= 2;
	return b;
}

/* How a test envelope departs from the format (0: it does not). */
enum { B_OK, B_AD_EMPTY, B_AD_OTHER, B_NO_MARKER, B_BAD_PAD, B_SIG_FLIP };

/*
 * env = u16 header_len || header || u32 body_len || body || Ed25519(sender,
 * label || 0x00 || SHA-256(header) || SHA-256(body)); body =
 * ChaCha20-Poly1305-IETF(K, 12 zero bytes, aad = header, content || 0x80 || 0...)
 * of bucket bytes.
 */
static void
kat_envelope(kbuf *env, const kbuf *h, const uint8_t *content, size_t len, size_t bucket,
    const uint8_t key[static 32], const kdev *signer, int how)
{
	static uint8_t padded[SOTTO_MAX_PADDED_BODY + 1024], body[SOTTO_MAX_PADDED_BODY + 1024 + 16];
	static const uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	static const uint8_t other_ad[4] = { 1, 2, 3, 4 };
	uint8_t m[sizeof(SIGN_LABEL) + 2 * crypto_hash_sha256_BYTES], sig[crypto_sign_BYTES];
	unsigned long long blen;
	const uint8_t *ad = h->p;
	size_t adlen = h->n;

	assert_true(bucket <= sizeof(padded) && len <= bucket);
	memset(padded, 0, bucket);
	memcpy(padded, content, len);
	if (how != B_NO_MARKER && len < bucket)
		padded[len] = 0x80;
	if (how == B_BAD_PAD)
		padded[bucket - 1] = 0x01;
	if (how == B_AD_EMPTY) {
		ad = NULL;
		adlen = 0;
	} else if (how == B_AD_OTHER) {
		ad = other_ad;
		adlen = sizeof(other_ad);
	}
	crypto_aead_chacha20poly1305_ietf_encrypt(body, &blen, padded, bucket, ad, adlen, NULL, nonce, key);
	memcpy(m, SIGN_LABEL, sizeof(SIGN_LABEL));
	crypto_hash_sha256(m + sizeof(SIGN_LABEL), h->p, h->n);
	crypto_hash_sha256(m + sizeof(SIGN_LABEL) + crypto_hash_sha256_BYTES, body, (size_t)blen);
	crypto_sign_detached(sig, NULL, m, sizeof(m), signer->sig_sec);
	if (how == B_SIG_FLIP)
		sig[7] ^= 0x40;
	env->n = 0;
	put_be(env, h->n, 2);
	put(env, h->p, h->n);
	put_be(env, blen, 4);
	put(env, body, (size_t)blen);
	put(env, sig, sizeof(sig));
}

/* wrap = enc (32) || HPKE base seal to the device of K, with info and aad as given. */
static void
kat_wrap(uint8_t wrap[static ENV_WRAP_LEN], const kdev *to, const uint8_t *info, size_t infolen,
    const uint8_t *aad, size_t aadlen, const uint8_t key[static 32])
{
	assert_int_equal(hpke_seal_base(wrap, wrap + HPKE_ENC_LEN, to->enc_pub, info, infolen, aad,
	    aadlen, key, 32), SOTTO_OK);
}

static const uint8_t KEY[32] = {
	0x4b, 0x45, 0x59, 0x20, 0x66, 0x6f, 0x72, 0x20, 0x6f, 0x6e, 0x65, 0x20, 0x6d, 0x65, 0x73, 0x73,
	0x61, 0x67, 0x65, 0x2c, 0x20, 0x66, 0x69, 0x78, 0x65, 0x64, 0x20, 0x68, 0x65, 0x72, 0x65, 0x21
};

/* env_open as device me of handle; a failure must leave nothing behind. */
static int
open_as(const kdev *me, const char *handle, const kbuf *env, const uint8_t *wrap, const kdev *sender,
    uint8_t **content, size_t *clen)
{
	env_header h;
	int rc;

	*content = NULL;
	rc = env_open(&h, content, clen, env->p, env->n, wrap, ENV_WRAP_LEN, sender->sig_pub, handle,
	    me->id, me->enc_sec);
	if (rc != SOTTO_OK) {
		assert_null(*content);
		assert_true(sc_is_zero(&h, sizeof(h)));
	}
	return rc;
}

/* ---- seal ---- */

/* Every byte env_seal writes, against the format computed here. */
static void
test_seal_known_answer(void **state)
{
	static const size_t lens[] = { 0, 5, 255, 256, 1000, 4095, SOTTO_MAX_BODY };
	static uint8_t content[SOTTO_MAX_BODY], got_key[32];
	static kbuf h, want, other;
	const char *to[] = { "bob", "carol" };
	const env_target targets[] = { { bob.id, bob.enc_pub }, { carol.id, carol.enc_pub } };
	uint8_t wraps[2 * ENV_WRAP_LEN], info[64], oinfo[64];
	size_t infolen, oinfolen;

	(void)state;
	for (size_t i = 0; i < sizeof(content); i++)
		content[i] = (uint8_t)(i * 31 + 7);
	kat_header(&h, "alice", &alice, to, 2);
	infolen = kat_info(info, h.p, h.n);
	kat_header(&other, "alice", &alice, to, 1);
	oinfolen = kat_info(oinfo, other.p, other.n);
	for (size_t t = 0; t < sizeof(lens) / sizeof(lens[0]); t++) {
		env_header eh;
		uint8_t *env = NULL;
		size_t elen = 0, bucket = kat_bucket(lens[t]);

		api_header(&eh, "alice", &alice, to, 2);
		assert_int_equal(env_seal(&eh, content, lens[t], alice.sig_sec, targets, 2, &env, &elen,
		    wraps), SOTTO_OK);
		/* The body: exactly one bucket (plus the tag), never the content's length. */
		assert_int_equal(elen, 2 + h.n + 4 + bucket + 16 + 64);
		assert_int_equal(((size_t)env[2 + h.n] << 24 | (size_t)env[3 + h.n] << 16 |
		    (size_t)env[4 + h.n] << 8 | env[5 + h.n]), bucket + 16);
		assert_memory_equal(env + 2, h.p, h.n);
		for (size_t k = 0; k < 2; k++) {
			const kdev *d = k == 0 ? &bob : &carol;
			const kdev *o = k == 0 ? &carol : &bob;
			const uint8_t *w = wraps + k * ENV_WRAP_LEN;

			/* K opens with info = label || SHA-256(this header) and aad = this
			 * device's id, and with nothing else. */
			assert_int_equal(hpke_open_base(got_key, w, d->enc_sec, info, infolen, d->id,
			    SC_DEVICE_ID, w + HPKE_ENC_LEN, ENV_WRAP_LEN - HPKE_ENC_LEN), SOTTO_OK);
			assert_int_not_equal(hpke_open_base(got_key, w, d->enc_sec, oinfo, oinfolen, d->id,
			    SC_DEVICE_ID, w + HPKE_ENC_LEN, ENV_WRAP_LEN - HPKE_ENC_LEN), SOTTO_OK);
			assert_int_not_equal(hpke_open_base(got_key, w, d->enc_sec, info, sizeof(WRAP_LABEL),
			    d->id, SC_DEVICE_ID, w + HPKE_ENC_LEN, ENV_WRAP_LEN - HPKE_ENC_LEN), SOTTO_OK);
			assert_int_not_equal(hpke_open_base(got_key, w, d->enc_sec, info, infolen, o->id,
			    SC_DEVICE_ID, w + HPKE_ENC_LEN, ENV_WRAP_LEN - HPKE_ENC_LEN), SOTTO_OK);
			assert_int_not_equal(hpke_open_base(got_key, w, d->enc_sec, info, infolen, NULL, 0,
			    w + HPKE_ENC_LEN, ENV_WRAP_LEN - HPKE_ENC_LEN), SOTTO_OK);
			assert_int_equal(hpke_open_base(got_key, w, d->enc_sec, info, infolen, d->id,
			    SC_DEVICE_ID, w + HPKE_ENC_LEN, ENV_WRAP_LEN - HPKE_ENC_LEN), SOTTO_OK);
		}
		/* With that K, the whole envelope is determined: recomputed here. */
		kat_envelope(&want, &h, content, lens[t], bucket, got_key, &alice, B_OK);
		assert_int_equal(elen, want.n);
		assert_memory_equal(env, want.p, want.n);
		free(env);
	}
}

/* ---- open ---- */

static void
test_open_known_answer(void **state)
{
	static kbuf h, env;
	const char *to[] = { "bob" };
	const char *msg = "hello, bob";
	uint8_t wrap[ENV_WRAP_LEN], info[64], *content = NULL;
	size_t infolen, clen = 0;
	env_header eh;

	(void)state;
	kat_header(&h, "alice", &alice, to, 1);
	infolen = kat_info(info, h.p, h.n);
	kat_envelope(&env, &h, (const uint8_t *)msg, strlen(msg), 256, KEY, &alice, B_OK);
	kat_wrap(wrap, &bob, info, infolen, bob.id, SC_DEVICE_ID, KEY);
	assert_int_equal(env_open(&eh, &content, &clen, env.p, env.n, wrap, sizeof(wrap), alice.sig_pub,
	    "bob", bob.id, bob.enc_sec), SOTTO_OK);
	assert_int_equal(clen, strlen(msg));
	assert_memory_equal(content, msg, clen);
	assert_memory_equal(eh.msg_id, MSG_ID, sizeof(MSG_ID));
	assert_string_equal(eh.sender, "alice");
	assert_memory_equal(eh.sender_device, alice.id, SC_DEVICE_ID);
	assert_int_equal(eh.sent_at, SENT_AT);
	assert_int_equal(eh.n_recipients, 1);
	assert_string_equal(eh.recipients[0], "bob");
	free(content);
}

/* Validly signed by the named device, each refused for one binding it lacks. */
static void
test_open_bindings(void **state)
{
	static kbuf h, other, env;
	const char *to[] = { "bob" };
	const char *msg = "bound";
	uint8_t wrap[ENV_WRAP_LEN], info[64], oinfo[64], *content;
	size_t infolen, oinfolen, clen;

	(void)state;
	kat_header(&h, "alice", &alice, to, 1);
	infolen = kat_info(info, h.p, h.n);
	kat_header(&other, "alice", &bob2, to, 1);
	oinfolen = kat_info(oinfo, other.p, other.n);

	/* the header is the body's associated data */
	kat_wrap(wrap, &bob, info, infolen, bob.id, SC_DEVICE_ID, KEY);
	kat_envelope(&env, &h, (const uint8_t *)msg, strlen(msg), 256, KEY, &alice, B_AD_EMPTY);
	assert_int_equal(open_as(&bob, "bob", &env, wrap, &alice, &content, &clen), SOTTO_ERR_DECRYPT);
	kat_envelope(&env, &h, (const uint8_t *)msg, strlen(msg), 256, KEY, &alice, B_AD_OTHER);
	assert_int_equal(open_as(&bob, "bob", &env, wrap, &alice, &content, &clen), SOTTO_ERR_DECRYPT);

	/* the wrap's info binds this header's hash */
	kat_envelope(&env, &h, (const uint8_t *)msg, strlen(msg), 256, KEY, &alice, B_OK);
	kat_wrap(wrap, &bob, info, sizeof(WRAP_LABEL), bob.id, SC_DEVICE_ID, KEY);
	assert_int_equal(open_as(&bob, "bob", &env, wrap, &alice, &content, &clen), SOTTO_ERR_DECRYPT);
	kat_wrap(wrap, &bob, oinfo, oinfolen, bob.id, SC_DEVICE_ID, KEY);
	assert_int_equal(open_as(&bob, "bob", &env, wrap, &alice, &content, &clen), SOTTO_ERR_DECRYPT);
	kat_wrap(wrap, &bob, NULL, 0, bob.id, SC_DEVICE_ID, KEY);
	assert_int_equal(open_as(&bob, "bob", &env, wrap, &alice, &content, &clen), SOTTO_ERR_DECRYPT);

	/* the wrap's aad is the device id */
	kat_wrap(wrap, &bob, info, infolen, bob2.id, SC_DEVICE_ID, KEY);
	assert_int_equal(open_as(&bob, "bob", &env, wrap, &alice, &content, &clen), SOTTO_ERR_DECRYPT);
	kat_wrap(wrap, &bob, info, infolen, NULL, 0, KEY);
	assert_int_equal(open_as(&bob, "bob", &env, wrap, &alice, &content, &clen), SOTTO_ERR_DECRYPT);

	/* and all of them right: it opens */
	kat_wrap(wrap, &bob, info, infolen, bob.id, SC_DEVICE_ID, KEY);
	assert_int_equal(open_as(&bob, "bob", &env, wrap, &alice, &content, &clen), SOTTO_OK);
	assert_int_equal(clen, strlen(msg));
	free(content);
}

/* A body that is not one padding bucket, or not padded, is refused even when
 * validly signed and encrypted (lengths would leak; a sender could not make it). */
static void
test_open_buckets(void **state)
{
	static const size_t bad[] = { 128, 255, 257, 300, 384, 1000, 4097 };
	static const size_t good[] = { 256, 512, 1024, 4096 };
	static kbuf h, env;
	static uint8_t big[SOTTO_MAX_BODY + 1];
	const char *to[] = { "bob" };
	const char *msg = "padded";
	uint8_t wrap[ENV_WRAP_LEN], info[64], *content;
	size_t infolen, clen;
	env_header eh;

	(void)state;
	kat_header(&h, "alice", &alice, to, 1);
	infolen = kat_info(info, h.p, h.n);
	kat_wrap(wrap, &bob, info, infolen, bob.id, SC_DEVICE_ID, KEY);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		kat_envelope(&env, &h, (const uint8_t *)msg, strlen(msg), bad[i], KEY, &alice, B_OK);
		assert_int_equal(env_parse_header(&eh, env.p, env.n), SOTTO_ERR_FORMAT);
		assert_int_equal(open_as(&bob, "bob", &env, wrap, &alice, &content, &clen), SOTTO_ERR_FORMAT);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		kat_envelope(&env, &h, (const uint8_t *)msg, strlen(msg), good[i], KEY, &alice, B_OK);
		assert_int_equal(env_parse_header(&eh, env.p, env.n), SOTTO_OK);
		assert_int_equal(open_as(&bob, "bob", &env, wrap, &alice, &content, &clen), SOTTO_OK);
		assert_int_equal(clen, strlen(msg));
		free(content);
	}
	/* padding without its marker, or with bytes after it */
	kat_envelope(&env, &h, (const uint8_t *)msg, strlen(msg), 256, KEY, &alice, B_NO_MARKER);
	assert_int_equal(open_as(&bob, "bob", &env, wrap, &alice, &content, &clen), SOTTO_ERR_FORMAT);
	kat_envelope(&env, &h, (const uint8_t *)msg, strlen(msg), 256, KEY, &alice, B_BAD_PAD);
	assert_int_equal(open_as(&bob, "bob", &env, wrap, &alice, &content, &clen), SOTTO_ERR_FORMAT);
	/* content beyond SOTTO_MAX_BODY in the largest bucket */
	memset(big, 'x', sizeof(big));
	kat_envelope(&env, &h, big, sizeof(big), SOTTO_MAX_PADDED_BODY, KEY, &alice, B_OK);
	assert_int_equal(open_as(&bob, "bob", &env, wrap, &alice, &content, &clen), SOTTO_ERR_FORMAT);
	kat_envelope(&env, &h, big, SOTTO_MAX_BODY, SOTTO_MAX_PADDED_BODY, KEY, &alice, B_OK);
	assert_int_equal(open_as(&bob, "bob", &env, wrap, &alice, &content, &clen), SOTTO_OK);
	assert_int_equal(clen, SOTTO_MAX_BODY);
	free(content);
}

/* Verify, then check the recipient, and only then decrypt: nothing reaches
 * HPKE or the AEAD from an envelope that fails either. */
static void
test_open_order(void **state)
{
	static kbuf h, env;
	const char *to[] = { "bob" };
	const char *msg = "in order";
	uint8_t wrap[ENV_WRAP_LEN], junk[ENV_WRAP_LEN], info[64], *content;
	size_t infolen, clen;

	(void)state;
	kat_header(&h, "alice", &alice, to, 1);
	infolen = kat_info(info, h.p, h.n);
	kat_wrap(wrap, &bob, info, infolen, bob.id, SC_DEVICE_ID, KEY);
	memset(junk, 0x33, sizeof(junk));

	/* a bad signature: refused as such, with a good wrap or a bad one */
	kat_envelope(&env, &h, (const uint8_t *)msg, strlen(msg), 256, KEY, &alice, B_SIG_FLIP);
	counters_reset();
	assert_int_equal(open_as(&bob, "bob", &env, wrap, &alice, &content, &clen), SOTTO_ERR_BAD_SIGNATURE);
	assert_int_equal(n_hpke_open, 0);
	assert_int_equal(n_aead_decrypt, 0);
	assert_int_equal(open_as(&bob, "bob", &env, junk, &alice, &content, &clen), SOTTO_ERR_BAD_SIGNATURE);
	assert_int_equal(open_as(&carol, "carol", &env, wrap, &alice, &content, &clen),
	    SOTTO_ERR_BAD_SIGNATURE);
	assert_int_equal(n_hpke_open, 0);
	assert_int_equal(n_aead_decrypt, 0);

	/* a valid signature by another key than the named device's */
	kat_envelope(&env, &h, (const uint8_t *)msg, strlen(msg), 256, KEY, &bob2, B_OK);
	assert_int_equal(open_as(&bob, "bob", &env, wrap, &bob2, &content, &clen), SOTTO_ERR_BAD_SIGNATURE);
	assert_int_equal(open_as(&bob, "bob", &env, wrap, &alice, &content, &clen), SOTTO_ERR_BAD_SIGNATURE);
	assert_int_equal(n_hpke_open, 0);
	assert_int_equal(n_aead_decrypt, 0);

	/* validly signed, but not for me: never decrypted either */
	kat_envelope(&env, &h, (const uint8_t *)msg, strlen(msg), 256, KEY, &alice, B_OK);
	assert_int_equal(open_as(&carol, "carol", &env, wrap, &alice, &content, &clen),
	    SOTTO_ERR_NOT_RECIPIENT);
	/* the sender's own device is not its own recipient */
	assert_int_equal(open_as(&alice, "alice", &env, wrap, &alice, &content, &clen),
	    SOTTO_ERR_NOT_RECIPIENT);
	assert_int_equal(n_hpke_open, 0);
	assert_int_equal(n_aead_decrypt, 0);

	/* all good: one unwrap, one decrypt, with the header as associated data */
	assert_int_equal(open_as(&bob, "bob", &env, wrap, &alice, &content, &clen), SOTTO_OK);
	assert_int_equal(n_hpke_open, 1);
	assert_int_equal(n_aead_decrypt, 1);
	assert_int_equal(last_ad_len, h.n);
	assert_memory_equal(last_ad, h.p, h.n);
	free(content);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seal_known_answer),
		cmocka_unit_test(test_open_known_answer),
		cmocka_unit_test(test_open_bindings),
		cmocka_unit_test(test_open_buckets),
		cmocka_unit_test(test_open_order),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
