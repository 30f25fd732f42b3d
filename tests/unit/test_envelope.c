/* SPDX-License-Identifier: ISC */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "crypto.h"
#include "envelope.h"
#include "sotto/error.h"

typedef struct keys {
	uint8_t pub[SC_SIGN_PUB];
	uint8_t sec[SC_SIGN_SEC];
	uint8_t enc_pub[SC_KX_PUB];
	uint8_t enc_sec[SC_KX_SEC];
	uint8_t id[SC_DEVICE_ID];
} keys;

/* alice (a1 sends, a2 is her other device), bob (b1, b2), carol (c1), mallory (m1). */
static keys a1, a2, b1, b2, c1, m1;

static void
make_keys(keys *k)
{
	sc_sign_keypair(k->pub, k->sec);
	sc_kx_keypair(k->enc_pub, k->enc_sec);
	sc_device_id(k->id, k->pub);
}

static env_target
target(const keys *k)
{
	env_target t = { k->id, k->enc_pub };

	return t;
}

static void
header_for(env_header *h, const char *sender, const keys *dev, const char *const *to, size_t n)
{
	size_t i;

	memset(h, 0, sizeof(*h));
	snprintf(h->sender, sizeof(h->sender), "%s", sender);
	memcpy(h->sender_device, dev->id, SC_DEVICE_ID);
	h->n_recipients = n;
	for (i = 0; i < n; i++)
		snprintf(h->recipients[i], sizeof(h->recipients[i]), "%s", to[i]);
}

/* env_open as device k of handle me; asserts that failures return no content. */
static int
open_as(env_header *h, uint8_t **content, size_t *clen, const uint8_t *e, size_t elen,
    const uint8_t *wrap, size_t wlen, const keys *sender, const char *me, const keys *k)
{
	int rc;

	rc = env_open(h, content, clen, e, elen, wrap, wlen, sender->pub, me, k->id, k->enc_sec);
	if (rc != SOTTO_OK) {
		assert_null(*content);
		assert_int_equal(*clen, 0);
		assert_true(sc_is_zero(h, sizeof(*h)));
	}
	return rc;
}

static void
check_same_header(const env_header *a, const env_header *b)
{
	size_t i;

	assert_int_equal(a->version, b->version);
	assert_memory_equal(a->msg_id, b->msg_id, ENV_MSG_ID_LEN);
	assert_string_equal(a->sender, b->sender);
	assert_memory_equal(a->sender_device, b->sender_device, SC_DEVICE_ID);
	assert_int_equal(a->sent_at, b->sent_at);
	assert_int_equal(a->n_recipients, b->n_recipients);
	for (i = 0; i < a->n_recipients; i++)
		assert_string_equal(a->recipients[i], b->recipients[i]);
}

static void
test_round_trip_one(void **state)
{
	static const char *const to[] = { "bob" };
	const char *msg = "hello, bob";
	env_header h, got;
	env_target t = target(&b1);
	uint8_t wrap[ENV_WRAP_LEN], *e = NULL, *c = NULL;
	size_t elen, clen;

	(void)state;
	header_for(&h, "alice", &a1, to, 1);
	assert_int_equal(env_seal(&h, (const uint8_t *)msg, strlen(msg), a1.sec, &t, 1, &e, &elen, wrap),
	    SOTTO_OK);
	assert_non_null(e);
	assert_int_equal(h.version, ENV_VERSION);
	assert_false(sc_is_zero(h.msg_id, ENV_MSG_ID_LEN));
	assert_true(h.sent_at > 1600000000000ULL);

	assert_int_equal(env_parse_header(&got, e, elen), SOTTO_OK);
	check_same_header(&h, &got);

	assert_int_equal(open_as(&got, &c, &clen, e, elen, wrap, sizeof(wrap), &a1, "bob", &b1), SOTTO_OK);
	assert_int_equal(clen, strlen(msg));
	assert_memory_equal(c, msg, clen);
	assert_int_equal(c[clen], '\0');
	check_same_header(&h, &got);
	free(c);
	free(e);
}

static void
test_round_trip_many(void **state)
{
	static const char *const to[] = { "bob", "carol" };
	const keys *devs[] = { &b1, &b2, &c1, &a2 };
	const char *owner[] = { "bob", "bob", "carol", "alice" };
	uint8_t content[1000], wraps[4 * ENV_WRAP_LEN], *e = NULL, *c = NULL;
	env_target t[4];
	env_header h, got;
	size_t elen, clen, i;

	(void)state;
	sc_random(content, sizeof(content));
	for (i = 0; i < 4; i++)
		t[i] = target(devs[i]);
	header_for(&h, "alice", &a1, to, 2);
	h.sent_at = 1234;
	memset(h.msg_id, 0x42, sizeof(h.msg_id));
	assert_int_equal(env_seal(&h, content, sizeof(content), a1.sec, t, 4, &e, &elen, wraps), SOTTO_OK);
	/* given values are kept */
	assert_int_equal(h.sent_at, 1234);
	assert_int_equal(h.msg_id[15], 0x42);
	for (i = 0; i < 4; i++) {
		assert_int_equal(open_as(&got, &c, &clen, e, elen, wraps + i * ENV_WRAP_LEN, ENV_WRAP_LEN,
		    &a1, owner[i], devs[i]), SOTTO_OK);
		assert_int_equal(clen, sizeof(content));
		assert_memory_equal(c, content, clen);
		check_same_header(&h, &got);
		free(c);
		c = NULL;
	}
	/* each wrap is for its own device only */
	assert_int_equal(open_as(&got, &c, &clen, e, elen, wraps + 1 * ENV_WRAP_LEN, ENV_WRAP_LEN,
	    &a1, "bob", &b1), SOTTO_ERR_DECRYPT);
	assert_int_equal(open_as(&got, &c, &clen, e, elen, wraps + 0 * ENV_WRAP_LEN, ENV_WRAP_LEN,
	    &a1, "carol", &c1), SOTTO_ERR_DECRYPT);
	free(e);
}

static void
test_sender_devices(void **state)
{
	static const char *const to[] = { "bob" };
	uint8_t wraps[3 * ENV_WRAP_LEN], *e = NULL, *c = NULL;
	env_target t[3] = { target(&b1), target(&a2), target(&a1) };
	env_header h, got;
	size_t elen, clen;

	(void)state;
	header_for(&h, "alice", &a1, to, 1);
	assert_int_equal(env_seal(&h, (const uint8_t *)"x", 1, a1.sec, t, 3, &e, &elen, wraps), SOTTO_OK);
	/* alice's other device shows what she sent */
	assert_int_equal(open_as(&got, &c, &clen, e, elen, wraps + ENV_WRAP_LEN, ENV_WRAP_LEN,
	    &a1, "alice", &a2), SOTTO_OK);
	assert_int_equal(clen, 1);
	assert_int_equal(c[0], 'x');
	free(c);
	c = NULL;
	/* the sending device itself is not a recipient, even with a wrap for it */
	assert_int_equal(open_as(&got, &c, &clen, e, elen, wraps + 2 * ENV_WRAP_LEN, ENV_WRAP_LEN,
	    &a1, "alice", &a1), SOTTO_ERR_NOT_RECIPIENT);
	free(e);
}

static void
test_not_recipient(void **state)
{
	static const char *const to[] = { "bob" };
	uint8_t wraps[2 * ENV_WRAP_LEN], *e = NULL, *c = NULL;
	env_target t[2] = { target(&b1), target(&c1) };
	env_header h, got;
	size_t elen, clen;

	(void)state;
	header_for(&h, "alice", &a1, to, 1);
	assert_int_equal(env_seal(&h, (const uint8_t *)"hi", 2, a1.sec, t, 2, &e, &elen, wraps), SOTTO_OK);
	/* carol got a copy (a wrap decryptable by her) but is not named: refused */
	assert_int_equal(open_as(&got, &c, &clen, e, elen, wraps + ENV_WRAP_LEN, ENV_WRAP_LEN,
	    &a1, "carol", &c1), SOTTO_ERR_NOT_RECIPIENT);
	assert_int_equal(open_as(&got, &c, &clen, e, elen, wraps, ENV_WRAP_LEN,
	    &a1, "bo", &b1), SOTTO_ERR_NOT_RECIPIENT);
	free(e);
}

/* Offsets of the parts of an envelope. */
static void
split(const uint8_t *e, size_t elen, size_t *hoff, size_t *hlen, size_t *boff, size_t *blen)
{
	*hoff = 2;
	*hlen = ((size_t)e[0] << 8) | e[1];
	*boff = *hoff + *hlen + 4;
	*blen = ((size_t)e[*hoff + *hlen] << 24) | ((size_t)e[*hoff + *hlen + 1] << 16) |
	    ((size_t)e[*hoff + *hlen + 2] << 8) | e[*hoff + *hlen + 3];
	assert_int_equal(*boff + *blen + SC_SIG, elen);
}

/* Re-sign an envelope in place with sec, as the documented signature. */
static void
resign(uint8_t *e, size_t elen, const uint8_t sec[SC_SIGN_SEC])
{
	static const char label[] = "sotto-envelope-v1";
	uint8_t m[sizeof(label) + 64];
	size_t hoff, hlen, boff, blen;

	split(e, elen, &hoff, &hlen, &boff, &blen);
	memcpy(m, label, sizeof(label));
	sc_sha256(m + sizeof(label), e + hoff, hlen);
	sc_sha256(m + sizeof(label) + 32, e + boff, blen);
	sc_sign(e + elen - SC_SIG, m, sizeof(m), sec);
}

static void
test_signatures(void **state)
{
	static const char *const to[] = { "bob" };
	uint8_t wrap[ENV_WRAP_LEN], *e = NULL, *c = NULL;
	env_target t = target(&b1);
	env_header h, got;
	size_t elen, clen, hoff, hlen, boff, blen;

	(void)state;
	header_for(&h, "alice", &a1, to, 1);
	assert_int_equal(env_seal(&h, (const uint8_t *)"pay 10", 6, a1.sec, &t, 1, &e, &elen, wrap), SOTTO_OK);
	/* the helper reproduces the real signature (so the cases below test what they say) */
	resign(e, elen, a1.sec);
	assert_int_equal(open_as(&got, &c, &clen, e, elen, wrap, sizeof(wrap), &a1, "bob", &b1), SOTTO_OK);
	free(c);
	c = NULL;

	/* checked against the wrong key: bob's own, or alice's other device */
	assert_int_equal(open_as(&got, &c, &clen, e, elen, wrap, sizeof(wrap), &b1, "bob", &b1),
	    SOTTO_ERR_BAD_SIGNATURE);
	assert_int_equal(open_as(&got, &c, &clen, e, elen, wrap, sizeof(wrap), &a2, "bob", &b1),
	    SOTTO_ERR_BAD_SIGNATURE);
	/* stripped and re-signed by mallory's device: against a1's key it fails, and
	 * against mallory's key it fails because the header names a1 */
	resign(e, elen, m1.sec);
	assert_int_equal(open_as(&got, &c, &clen, e, elen, wrap, sizeof(wrap), &a1, "bob", &b1),
	    SOTTO_ERR_BAD_SIGNATURE);
	assert_int_equal(open_as(&got, &c, &clen, e, elen, wrap, sizeof(wrap), &m1, "bob", &b1),
	    SOTTO_ERR_BAD_SIGNATURE);
	/* re-signed by alice's other (genuine) device: still not the named device */
	resign(e, elen, a2.sec);
	assert_int_equal(open_as(&got, &c, &clen, e, elen, wrap, sizeof(wrap), &a2, "bob", &b1),
	    SOTTO_ERR_BAD_SIGNATURE);
	/* body mauled and validly re-signed by the sender: the AEAD still refuses */
	split(e, elen, &hoff, &hlen, &boff, &blen);
	e[boff + 3] ^= 0x01;
	resign(e, elen, a1.sec);
	assert_int_equal(open_as(&got, &c, &clen, e, elen, wrap, sizeof(wrap), &a1, "bob", &b1),
	    SOTTO_ERR_DECRYPT);
	free(e);
}

static void
test_mutations(void **state)
{
	static const char *const to[] = { "bob", "carol" };
	uint8_t wrap[ENV_WRAP_LEN], w[ENV_WRAP_LEN], *e = NULL, *m, *c = NULL;
	env_target t = target(&b1);
	env_header h, got;
	size_t elen, clen, i, bit;

	(void)state;
	header_for(&h, "alice", &a1, to, 2);
	assert_int_equal(env_seal(&h, (const uint8_t *)"attack at dawn", 14, a1.sec, &t, 1, &e, &elen, wrap),
	    SOTTO_OK);
	m = malloc(elen + 1);
	assert_non_null(m);
	for (i = 0; i < elen; i++) {
		for (bit = 0; bit <= 8; bit++) {
			memcpy(m, e, elen);
			m[i] ^= bit < 8 ? (uint8_t)(1u << bit) : 0xff;
			assert_int_not_equal(open_as(&got, &c, &clen, m, elen, wrap, sizeof(wrap),
			    &a1, "bob", &b1), SOTTO_OK);
		}
	}
	for (i = 0; i < ENV_WRAP_LEN; i++) {
		for (bit = 0; bit <= 8; bit++) {
			memcpy(w, wrap, sizeof(w));
			w[i] ^= bit < 8 ? (uint8_t)(1u << bit) : 0xff;
			assert_int_equal(open_as(&got, &c, &clen, e, elen, w, sizeof(w), &a1, "bob", &b1),
			    SOTTO_ERR_DECRYPT);
		}
	}
	/* truncation at every length, each in an exact-size buffer for ASan */
	for (i = 0; i < elen; i++) {
		uint8_t *tr = malloc(i > 0 ? i : 1);

		assert_non_null(tr);
		memcpy(tr, e, i);
		assert_int_not_equal(open_as(&got, &c, &clen, tr, i, wrap, sizeof(wrap), &a1, "bob", &b1),
		    SOTTO_OK);
		assert_int_not_equal(env_parse_header(&got, tr, i), SOTTO_OK);
		free(tr);
	}
	for (i = 0; i < ENV_WRAP_LEN; i++)
		assert_int_equal(open_as(&got, &c, &clen, e, elen, wrap, i, &a1, "bob", &b1), SOTTO_ERR_FORMAT);
	/* one byte too many */
	memcpy(m, e, elen);
	m[elen] = 0;
	assert_int_equal(open_as(&got, &c, &clen, m, elen + 1, wrap, sizeof(wrap), &a1, "bob", &b1),
	    SOTTO_ERR_FORMAT);
	/* still fine after all that */
	assert_int_equal(open_as(&got, &c, &clen, e, elen, wrap, sizeof(wrap), &a1, "bob", &b1), SOTTO_OK);
	assert_memory_equal(c, "attack at dawn", 15);
	free(c);
	free(m);
	free(e);
}

static void
test_wrong_wrap(void **state)
{
	static const char *const to[] = { "bob" };
	uint8_t wraps[2 * ENV_WRAP_LEN], wrap2[ENV_WRAP_LEN], *e = NULL, *e2 = NULL, *c = NULL;
	env_target t[2] = { target(&b1), target(&b2) };
	env_header h, got;
	size_t elen, elen2, clen;

	(void)state;
	header_for(&h, "alice", &a1, to, 1);
	assert_int_equal(env_seal(&h, (const uint8_t *)"a", 1, a1.sec, t, 2, &e, &elen, wraps), SOTTO_OK);
	/* b2 with b1's wrap */
	assert_int_equal(open_as(&got, &c, &clen, e, elen, wraps, ENV_WRAP_LEN, &a1, "bob", &b2),
	    SOTTO_ERR_DECRYPT);
	/* b1's wrap and key, but claiming b2's id (the aad) */
	{
		keys k = b1;

		memcpy(k.id, b2.id, SC_DEVICE_ID);
		assert_int_equal(open_as(&got, &c, &clen, e, elen, wraps, ENV_WRAP_LEN, &a1, "bob", &k),
		    SOTTO_ERR_DECRYPT);
	}
	/* a wrap from another message (bound to its header hash) */
	header_for(&h, "alice", &a1, to, 1);
	assert_int_equal(env_seal(&h, (const uint8_t *)"a", 1, a1.sec, t, 1, &e2, &elen2, wrap2), SOTTO_OK);
	assert_int_equal(open_as(&got, &c, &clen, e, elen, wrap2, ENV_WRAP_LEN, &a1, "bob", &b1),
	    SOTTO_ERR_DECRYPT);
	assert_int_equal(open_as(&got, &c, &clen, e2, elen2, wrap2, ENV_WRAP_LEN, &a1, "bob", &b1), SOTTO_OK);
	free(c);
	free(e);
	free(e2);
}

static size_t
sealed_len(size_t n, int *rc)
{
	static const char *const to[] = { "bob" };
	uint8_t *content = calloc(1, n + 1), wrap[ENV_WRAP_LEN], *e = NULL, *c = NULL;
	env_target t = target(&b1);
	env_header h, got;
	size_t elen = 0, clen;

	assert_non_null(content);
	memset(content, 'z', n);
	header_for(&h, "alice", &a1, to, 1);
	*rc = env_seal(&h, content, n, a1.sec, &t, 1, &e, &elen, wrap);
	if (*rc == SOTTO_OK) {
		assert_int_equal(open_as(&got, &c, &clen, e, elen, wrap, sizeof(wrap), &a1, "bob", &b1),
		    SOTTO_OK);
		assert_int_equal(clen, n);
		assert_memory_equal(c, content, n);
		free(c);
	} else {
		assert_null(e);
	}
	free(e);
	free(content);
	return elen;
}

static void
test_padding(void **state)
{
	size_t l0, l1, l200, l255, l256, l511, l512, lmax;
	int rc;

	(void)state;
	l0 = sealed_len(0, &rc);
	assert_int_equal(rc, SOTTO_OK);
	l1 = sealed_len(1, &rc);
	l200 = sealed_len(200, &rc);
	l255 = sealed_len(255, &rc);
	l256 = sealed_len(256, &rc);
	l511 = sealed_len(511, &rc);
	l512 = sealed_len(512, &rc);
	assert_int_equal(l0, l1);
	assert_int_equal(l1, l200);
	assert_int_equal(l200, l255);
	assert_int_equal(l256, l255 + 256);
	assert_int_equal(l511, l256);
	assert_int_equal(l512, l256 + 512);
	lmax = sealed_len(SOTTO_MAX_BODY, &rc);
	assert_int_equal(rc, SOTTO_OK);
	assert_int_equal(lmax, l1 - 256 + SOTTO_MAX_PADDED_BODY);
	assert_int_equal(sealed_len(SOTTO_MAX_BODY + 1, &rc), 0);
	assert_int_equal(rc, SOTTO_ERR_TOO_LARGE);
}

static void
test_seal_refuses(void **state)
{
	static const char *const dup[] = { "bob", "carol", "bob" };
	static const char *const bad[] = { "Bob" };
	static const char *const ok[] = { "bob" };
	uint8_t wrap[ENV_WRAP_LEN], *e = NULL;
	env_target t = target(&b1);
	env_header h;
	size_t elen;

	(void)state;
	header_for(&h, "alice", &a1, dup, 3);
	assert_int_equal(env_seal(&h, (const uint8_t *)"a", 1, a1.sec, &t, 1, &e, &elen, wrap),
	    SOTTO_ERR_INVALID_ARG);
	assert_null(e);
	assert_true(sc_is_zero(h.msg_id, ENV_MSG_ID_LEN));	/* h left as it was */
	assert_int_equal(h.sent_at, 0);
	header_for(&h, "alice", &a1, bad, 1);
	assert_int_equal(env_seal(&h, (const uint8_t *)"a", 1, a1.sec, &t, 1, &e, &elen, wrap),
	    SOTTO_ERR_INVALID_ARG);
	header_for(&h, "alice", &a1, ok, 0);
	assert_int_equal(env_seal(&h, (const uint8_t *)"a", 1, a1.sec, &t, 1, &e, &elen, wrap),
	    SOTTO_ERR_INVALID_ARG);
	header_for(&h, "alice", &a1, ok, 1);
	h.n_recipients = SOTTO_MAX_RECIPIENTS + 1;
	assert_int_equal(env_seal(&h, (const uint8_t *)"a", 1, a1.sec, &t, 1, &e, &elen, wrap),
	    SOTTO_ERR_INVALID_ARG);
	/* header names a device that is not the signing key's */
	header_for(&h, "alice", &a2, ok, 1);
	assert_int_equal(env_seal(&h, (const uint8_t *)"a", 1, a1.sec, &t, 1, &e, &elen, wrap),
	    SOTTO_ERR_INVALID_ARG);
	assert_null(e);
}

static void
test_parse_rules(void **state)
{
	static const char *const to[] = { "bob", "carol" };
	uint8_t wrap[ENV_WRAP_LEN], *e = NULL, *m;
	env_target t = target(&b1);
	env_header h, got;
	size_t elen, hoff, hlen, boff, blen;

	(void)state;
	header_for(&h, "alice", &a1, to, 2);
	assert_int_equal(env_seal(&h, (const uint8_t *)"a", 1, a1.sec, &t, 1, &e, &elen, wrap), SOTTO_OK);
	m = malloc(elen);
	assert_non_null(m);
	split(e, elen, &hoff, &hlen, &boff, &blen);
	assert_int_equal(blen, 256 + 16);

	/* version 2 */
	memcpy(m, e, elen);
	m[hoff] = 2;
	assert_int_equal(env_parse_header(&got, m, elen), SOTTO_ERR_VERSION);
	assert_true(sc_is_zero(&got, sizeof(got)));
	/* two 5-letter recipients, so one can be overwritten with the other in place */
	free(e);
	e = NULL;
	{
		static const char *const two[] = { "carol", "dave_" };
		size_t r0;

		header_for(&h, "alice", &a1, two, 2);
		assert_int_equal(env_seal(&h, (const uint8_t *)"a", 1, a1.sec, &t, 1, &e, &elen, wrap),
		    SOTTO_OK);
		split(e, elen, &hoff, &hlen, &boff, &blen);
		free(m);
		m = malloc(elen);
		assert_non_null(m);
		r0 = hoff + 1 + 16 + 1 + 5 + 16 + 8 + 1;
		memcpy(m, e, elen);
		memcpy(m + r0 + 7, "carol", 5);
		assert_int_equal(env_parse_header(&got, m, elen), SOTTO_ERR_FORMAT);
		/* a NUL inside a handle */
		memcpy(m, e, elen);
		m[r0 + 3] = '\0';
		assert_int_equal(env_parse_header(&got, m, elen), SOTTO_ERR_FORMAT);
		/* an invalid handle character */
		memcpy(m, e, elen);
		m[r0 + 3] = 'R';
		assert_int_equal(env_parse_header(&got, m, elen), SOTTO_ERR_FORMAT);
		/* zero recipients */
		memcpy(m, e, elen);
		m[r0 - 1] = 0;
		assert_int_equal(env_parse_header(&got, m, elen), SOTTO_ERR_FORMAT);
		/* body_len not a bucket (and not matching what follows) */
		memcpy(m, e, elen);
		m[hoff + hlen + 3] ^= 1;
		assert_int_equal(env_parse_header(&got, m, elen), SOTTO_ERR_FORMAT);
		/* header_len above the cap */
		memcpy(m, e, elen);
		m[0] = 0xff;
		assert_int_equal(env_parse_header(&got, m, elen), SOTTO_ERR_FORMAT);
	}
	assert_int_equal(env_parse_header(&got, e, elen), SOTTO_OK);
	assert_string_equal(got.recipients[1], "dave_");
	free(m);
	free(e);
}

static int
setup(void **state)
{
	(void)state;
	make_keys(&a1);
	make_keys(&a2);
	make_keys(&b1);
	make_keys(&b2);
	make_keys(&c1);
	make_keys(&m1);
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_one),
		cmocka_unit_test(test_round_trip_many),
		cmocka_unit_test(test_sender_devices),
		cmocka_unit_test(test_not_recipient),
		cmocka_unit_test(test_signatures),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_wrong_wrap),
		cmocka_unit_test(test_padding),
		cmocka_unit_test(test_seal_refuses),
		cmocka_unit_test(test_parse_rules),
	};

	if (sc_init() != SOTTO_OK)
		return 1;
	return cmocka_run_group_tests(tests, setup, NULL);
}
