/* SPDX-License-Identifier: ISC */
/* Link codes and linking blobs: round trips; every bit flip and truncation of a
 * valid offer and answer refused; a blob MACed for another rendezvous or with
 * another secret refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "linkcode.h"
#include "sotto/error.h"

static uint8_t rid[WIRE_RENDEZVOUS_LEN], secret[LINK_SECRET_LEN], key[SC_SHA256];

static int
setup(void **state)
{
	(void)state;
	assert_int_equal(sc_init(), SOTTO_OK);
	sc_random(rid, sizeof(rid));
	sc_random(secret, sizeof(secret));
	assert_int_equal(link_mac_key(key, rid, secret), SOTTO_OK);
	return 0;
}

static void
test_code(void **state)
{
	uint8_t r2[WIRE_RENDEZVOUS_LEN], s2[LINK_SECRET_LEN];
	char code[LINK_CODE_TEXT_LEN + 1], bad[LINK_CODE_TEXT_LEN + 2];

	(void)state;
	link_code_encode(code, rid, secret);
	assert_int_equal(strlen(code), LINK_CODE_TEXT_LEN);
	assert_int_equal(link_code_decode(code, r2, s2), SOTTO_OK);
	assert_memory_equal(r2, rid, sizeof(rid));
	assert_memory_equal(s2, secret, sizeof(secret));
	memcpy(bad, code, sizeof(code));
	bad[LINK_CODE_TEXT_LEN - 1] = '\0';
	assert_int_equal(link_code_decode(bad, r2, s2), SOTTO_ERR_FORMAT);
	memcpy(bad, code, sizeof(code));
	bad[LINK_CODE_TEXT_LEN] = 'A';
	bad[LINK_CODE_TEXT_LEN + 1] = '\0';
	assert_int_equal(link_code_decode(bad, r2, s2), SOTTO_ERR_FORMAT);
	memcpy(bad, code, sizeof(code));
	bad[3] = '+';	/* not base64url */
	assert_int_equal(link_code_decode(bad, r2, s2), SOTTO_ERR_FORMAT);
}

/* Every bit flip and every truncation of blob p/n must be refused. */
enum blob_kind { OFFER, ANSWER, PICKUP };

static int
parse_kind(enum blob_kind k, const uint8_t *p, size_t n)
{
	link_offer o;
	link_answer a;
	uint8_t h[SC_SHA256];

	switch (k) {
	case OFFER: return link_offer_parse(&o, p, n, key, rid);
	case ANSWER: return link_answer_parse(&a, p, n, key, rid);
	default: return link_pickup_parse(h, p, n, key, rid);
	}
}

static void
mutate_all(const uint8_t *p, size_t n, enum blob_kind k)
{
	uint8_t *m = malloc(n);

	assert_non_null(m);
	for (size_t i = 0; i < n * 8; i++) {
		memcpy(m, p, n);
		m[i / 8] ^= (uint8_t)(1u << (i % 8));
		assert_int_not_equal(parse_kind(k, m, n), SOTTO_OK);
	}
	for (size_t len = 0; len < n; len++)
		assert_int_not_equal(parse_kind(k, p, len), SOTTO_OK);
	free(m);
}

static void
test_offer(void **state)
{
	link_offer o, back;
	uint8_t *blob = NULL, other[WIRE_RENDEZVOUS_LEN], okey[SC_SHA256];
	size_t n = 0;

	(void)state;
	memset(&o, 0, sizeof(o));
	snprintf(o.handle, sizeof(o.handle), "alice");
	snprintf(o.name, sizeof(o.name), "alice-tablet");
	sc_random(o.sig_pub, sizeof(o.sig_pub));
	sc_random(o.enc_pub, sizeof(o.enc_pub));
	assert_int_equal(link_offer_encode(&o, key, rid, &blob, &n), SOTTO_OK);
	assert_int_equal(link_offer_parse(&back, blob, n, key, rid), SOTTO_OK);
	assert_memory_equal(&back, &o, sizeof(o));
	/* Another rendezvous id, or a key from another secret: the MAC fails. */
	memcpy(other, rid, sizeof(other));
	other[0] ^= 1;
	assert_int_equal(link_offer_parse(&back, blob, n, key, other), SOTTO_ERR_BAD_SIGNATURE);
	memset(okey, 0x5a, sizeof(okey));
	assert_int_equal(link_offer_parse(&back, blob, n, okey, rid), SOTTO_ERR_BAD_SIGNATURE);
	/* An offer is not an answer (different label). */
	link_answer a;
	assert_int_not_equal(link_answer_parse(&a, blob, n, key, rid), SOTTO_OK);
	mutate_all(blob, n, OFFER);
	free(blob);
}

static void
test_answer(void **state)
{
	link_answer a, back;
	uint8_t *blob = NULL;
	size_t n = 0;

	(void)state;
	memset(&a, 0, sizeof(a));
	sc_random(a.account_pub, sizeof(a.account_pub));
	a.version = 7;
	sc_random(a.list_hash, sizeof(a.list_hash));
	assert_int_equal(link_answer_encode(&a, key, rid, &blob, &n), SOTTO_OK);
	assert_int_equal(link_answer_parse(&back, blob, n, key, rid), SOTTO_OK);
	assert_memory_equal(&back, &a, sizeof(a));
	mutate_all(blob, n, ANSWER);
	free(blob);
}

static void
test_pickup(void **state)
{
	uint8_t h[SC_SHA256], back[SC_SHA256], *blob = NULL;
	size_t n = 0;

	(void)state;
	sc_random(h, sizeof(h));
	assert_int_equal(link_pickup_encode(h, key, rid, &blob, &n), SOTTO_OK);
	assert_int_equal(link_pickup_parse(back, blob, n, key, rid), SOTTO_OK);
	assert_memory_equal(back, h, sizeof(h));
	/* Neither an offer nor an answer parses as a pickup, nor the reverse. */
	assert_int_not_equal(parse_kind(ANSWER, blob, n), SOTTO_OK);
	assert_int_not_equal(parse_kind(OFFER, blob, n), SOTTO_OK);
	mutate_all(blob, n, PICKUP);
	free(blob);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_code),
		cmocka_unit_test(test_offer),
		cmocka_unit_test(test_answer),
		cmocka_unit_test(test_pickup),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
