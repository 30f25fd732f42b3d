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
#include "devicelist.h"
#include "sotto/error.h"

#define TRAILER (SC_DEVICE_ID + SC_SIG)

typedef struct keys {
	uint8_t pub[SC_SIGN_PUB];
	uint8_t sec[SC_SIGN_SEC];
	uint8_t enc_pub[SC_KX_PUB];
	uint8_t enc_sec[SC_KX_SEC];
	uint8_t id[SC_DEVICE_ID];
} keys;

/* A chain: v1 (account: d1), v2 (d1 signs: d1, d2), v3 (account signs: d3). */
typedef struct fixture {
	keys account, d1, d2, d3, other;
	dl_list l1, l2, l3;
	uint8_t *b1, *b2, *b3;
	size_t n1, n2, n3;
	uint8_t h1[SC_SHA256], h2[SC_SHA256];
} fixture;

static void
make_keys(keys *k)
{
	sc_sign_keypair(k->pub, k->sec);
	sc_kx_keypair(k->enc_pub, k->enc_sec);
	sc_device_id(k->id, k->pub);
}

static void
set_device(dl_device *d, const keys *k, const char *name, const uint8_t *approved_by)
{
	memset(d, 0, sizeof(*d));
	memcpy(d->id, k->id, SC_DEVICE_ID);
	snprintf(d->name, sizeof(d->name), "%s", name);
	memcpy(d->sig_pub, k->pub, SC_SIGN_PUB);
	memcpy(d->enc_pub, k->enc_pub, SC_KX_PUB);
	d->added_at = 1700000000000ULL;
	if (approved_by != NULL)
		memcpy(d->approved_by, approved_by, SC_DEVICE_ID);
}

static void
base_list(dl_list *l, const char *handle, const uint8_t account_pub[SC_SIGN_PUB], uint64_t version,
    const uint8_t *prev_hash)
{
	memset(l, 0, sizeof(*l));
	snprintf(l->handle, sizeof(l->handle), "%s", handle);
	memcpy(l->account_pub, account_pub, SC_SIGN_PUB);
	l->version = version;
	if (prev_hash != NULL)
		memcpy(l->prev_hash, prev_hash, SC_SHA256);
	l->created_at = 1700000000000ULL + version;
}

/* Replace the trailer of a signed list with (signer, signature by sec). */
static void
resign(uint8_t *p, size_t n, const uint8_t signer[SC_DEVICE_ID], const uint8_t sec[SC_SIGN_SEC])
{
	static const char label[] = "sotto-devicelist-v1";
	uint8_t *m;
	size_t body = n - TRAILER;

	assert_true(n >= TRAILER);
	m = malloc(sizeof(label) + body);
	assert_non_null(m);
	memcpy(m, label, sizeof(label));
	memcpy(m + sizeof(label), p, body);
	sc_sign(p + body + SC_DEVICE_ID, m, sizeof(label) + body, sec);
	memcpy(p + body, signer, SC_DEVICE_ID);
	free(m);
}

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));
	static const uint8_t zero[SC_DEVICE_ID];

	assert_non_null(f);
	make_keys(&f->account);
	make_keys(&f->d1);
	make_keys(&f->d2);
	make_keys(&f->d3);
	make_keys(&f->other);

	base_list(&f->l1, "alice", f->account.pub, 1, NULL);
	f->l1.n_devices = 1;
	set_device(&f->l1.devices[0], &f->d1, "laptop", zero);
	assert_int_equal(dl_sign_account(&f->l1, f->account.sec, &f->b1, &f->n1), SOTTO_OK);
	dl_hash(f->h1, f->b1, f->n1);

	base_list(&f->l2, "alice", f->account.pub, 2, f->h1);
	f->l2.n_devices = 2;
	set_device(&f->l2.devices[0], &f->d1, "laptop", zero);
	set_device(&f->l2.devices[1], &f->d2, "phone", f->d1.id);
	assert_int_equal(dl_sign_device(&f->l2, f->d1.id, f->d1.sec, &f->b2, &f->n2), SOTTO_OK);
	dl_hash(f->h2, f->b2, f->n2);

	base_list(&f->l3, "alice", f->account.pub, 3, f->h2);
	f->l3.n_devices = 1;
	set_device(&f->l3.devices[0], &f->d3, "new phone", zero);
	assert_int_equal(dl_sign_account(&f->l3, f->account.sec, &f->b3, &f->n3), SOTTO_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;

	free(f->b1);
	free(f->b2);
	free(f->b3);
	free(f);
	return 0;
}

static void
test_round_trip(void **state)
{
	fixture *f = *state;
	dl_list p1, p2, p3;
	uint8_t h[SC_SHA256];

	assert_int_equal(dl_parse(&p1, f->b1, f->n1), SOTTO_OK);
	assert_string_equal(p1.handle, "alice");
	assert_int_equal(p1.version, 1);
	assert_int_equal(p1.n_devices, 1);
	assert_string_equal(p1.devices[0].name, "laptop");
	assert_memory_equal(p1.devices[0].sig_pub, f->d1.pub, SC_SIGN_PUB);
	assert_memory_equal(p1.devices[0].enc_pub, f->d1.enc_pub, SC_KX_PUB);
	assert_true(sc_is_zero(p1.signer, SC_DEVICE_ID));
	assert_int_equal(dl_verify_first(&p1, f->b1, f->n1), SOTTO_OK);

	assert_int_equal(dl_parse(&p2, f->b2, f->n2), SOTTO_OK);
	assert_int_equal(p2.version, 2);
	assert_int_equal(p2.n_devices, 2);
	assert_memory_equal(p2.signer, f->d1.id, SC_DEVICE_ID);
	assert_memory_equal(p2.devices[1].approved_by, f->d1.id, SC_DEVICE_ID);
	assert_memory_equal(p2.prev_hash, f->h1, SC_SHA256);
	assert_int_equal(p2.devices[1].added_at, 1700000000000ULL);
	assert_int_equal(p2.created_at, 1700000000002ULL);
	assert_int_equal(dl_verify_next(&p1, f->h1, &p2, f->b2, f->n2), SOTTO_OK);
	assert_non_null(dl_find(&p2, f->d2.id));
	assert_ptr_equal(dl_find(&p2, f->d2.id), &p2.devices[1]);
	assert_null(dl_find(&p2, f->d3.id));
	assert_null(dl_find(&p1, p1.signer));	/* the zero id is never a device */

	/* recovery: all devices lost, the account key signs the next version */
	assert_int_equal(dl_parse(&p3, f->b3, f->n3), SOTTO_OK);
	dl_hash(h, f->b2, f->n2);
	assert_int_equal(dl_verify_next(&p2, h, &p3, f->b3, f->n3), SOTTO_OK);
	assert_string_equal(p3.devices[0].name, "new phone");

	/* the chain does not verify out of order */
	assert_int_equal(dl_verify_first(&p2, f->b2, f->n2), SOTTO_ERR_CHAIN);
	assert_int_equal(dl_verify_next(&p1, f->h1, &p3, f->b3, f->n3), SOTTO_ERR_CHAIN);
}

static void
test_wrong_signer(void **state)
{
	fixture *f = *state;
	uint8_t *b = malloc(f->n2);
	uint8_t *c = malloc(f->n1);
	dl_list p1, p2;

	assert_non_null(b);
	assert_non_null(c);
	assert_int_equal(dl_parse(&p1, f->b1, f->n1), SOTTO_OK);

	/* v2 claims d1 but is signed by d2's key */
	memcpy(b, f->b2, f->n2);
	resign(b, f->n2, f->d1.id, f->d2.sec);
	assert_int_equal(dl_parse(&p2, b, f->n2), SOTTO_OK);
	assert_int_equal(dl_verify_next(&p1, f->h1, &p2, b, f->n2), SOTTO_ERR_BAD_SIGNATURE);

	/* v2 signed by d2, which is only in v2 itself: not a device of prev */
	resign(b, f->n2, f->d2.id, f->d2.sec);
	assert_int_equal(dl_parse(&p2, b, f->n2), SOTTO_OK);
	assert_int_equal(dl_verify_next(&p1, f->h1, &p2, b, f->n2), SOTTO_ERR_CHAIN);

	/* v2 "by the account key" signed by another key */
	resign(b, f->n2, (const uint8_t[SC_DEVICE_ID]){ 0 }, f->other.sec);
	assert_int_equal(dl_parse(&p2, b, f->n2), SOTTO_OK);
	assert_int_equal(dl_verify_next(&p1, f->h1, &p2, b, f->n2), SOTTO_ERR_BAD_SIGNATURE);

	/* v1 signed by a device rather than the account key */
	memcpy(c, f->b1, f->n1);
	resign(c, f->n1, f->d1.id, f->d1.sec);
	assert_int_equal(dl_parse(&p1, c, f->n1), SOTTO_OK);
	assert_int_equal(dl_verify_first(&p1, c, f->n1), SOTTO_ERR_CHAIN);

	/* v1 with the account signer id but a foreign key's signature */
	resign(c, f->n1, (const uint8_t[SC_DEVICE_ID]){ 0 }, f->other.sec);
	assert_int_equal(dl_parse(&p1, c, f->n1), SOTTO_OK);
	assert_int_equal(dl_verify_first(&p1, c, f->n1), SOTTO_ERR_BAD_SIGNATURE);

	free(b);
	free(c);
}

static void
test_signers_refuse_misuse(void **state)
{
	fixture *f = *state;
	static uint8_t dummy;
	uint8_t *out = &dummy;
	size_t n = 1;
	dl_list l;

	/* account key that is not the list's */
	l = f->l1;
	assert_int_equal(dl_sign_account(&l, f->other.sec, &out, &n), SOTTO_ERR_INVALID_ARG);
	assert_null(out);
	assert_int_equal(n, 0);
	/* version 1 may not be device-signed */
	assert_int_equal(dl_sign_device(&l, f->d1.id, f->d1.sec, &out, &n), SOTTO_ERR_INVALID_ARG);
	/* device id that is not that key's */
	l = f->l2;
	assert_int_equal(dl_sign_device(&l, f->d2.id, f->d1.sec, &out, &n), SOTTO_ERR_INVALID_ARG);
	/* id not matching its key */
	l = f->l1;
	memcpy(l.devices[0].id, f->d2.id, SC_DEVICE_ID);
	assert_int_equal(dl_sign_account(&l, f->account.sec, &out, &n), SOTTO_ERR_INVALID_ARG);
	/* duplicate devices */
	l = f->l2;
	l.devices[1] = l.devices[0];
	assert_int_equal(dl_sign_device(&l, f->d1.id, f->d1.sec, &out, &n), SOTTO_ERR_INVALID_ARG);
	/* no devices, too many devices */
	l = f->l1;
	l.n_devices = 0;
	assert_int_equal(dl_sign_account(&l, f->account.sec, &out, &n), SOTTO_ERR_INVALID_ARG);
	l.n_devices = SOTTO_MAX_DEVICES + 1;
	assert_int_equal(dl_sign_account(&l, f->account.sec, &out, &n), SOTTO_ERR_INVALID_ARG);
	/* bad handle, control character in a name, bad UTF-8 */
	l = f->l1;
	snprintf(l.handle, sizeof(l.handle), "Alice");
	assert_int_equal(dl_sign_account(&l, f->account.sec, &out, &n), SOTTO_ERR_INVALID_ARG);
	l = f->l1;
	snprintf(l.devices[0].name, sizeof(l.devices[0].name), "lap\033[2Jtop");
	assert_int_equal(dl_sign_account(&l, f->account.sec, &out, &n), SOTTO_ERR_INVALID_ARG);
	snprintf(l.devices[0].name, sizeof(l.devices[0].name), "lap\xc0\xaftop");
	assert_int_equal(dl_sign_account(&l, f->account.sec, &out, &n), SOTTO_ERR_INVALID_ARG);
	snprintf(l.devices[0].name, sizeof(l.devices[0].name), "\xed\xa0\x80");
	assert_int_equal(dl_sign_account(&l, f->account.sec, &out, &n), SOTTO_ERR_INVALID_ARG);
	/* version 1 with a prev_hash, version 2 without */
	l = f->l1;
	l.prev_hash[3] = 1;
	assert_int_equal(dl_sign_account(&l, f->account.sec, &out, &n), SOTTO_ERR_INVALID_ARG);
	l = f->l2;
	memset(l.prev_hash, 0, sizeof(l.prev_hash));
	assert_int_equal(dl_sign_account(&l, f->account.sec, &out, &n), SOTTO_ERR_INVALID_ARG);
	assert_null(out);

	/* UTF-8 names are fine */
	l = f->l1;
	snprintf(l.devices[0].name, sizeof(l.devices[0].name), "T\xc3\xa9l\xc3\xa9phone \xf0\x9f\x93\xb1");
	assert_int_equal(dl_sign_account(&l, f->account.sec, &out, &n), SOTTO_OK);
	assert_int_equal(dl_parse(&l, out, n), SOTTO_OK);
	assert_string_equal(l.devices[0].name, "T\xc3\xa9l\xc3\xa9phone \xf0\x9f\x93\xb1");
	free(out);
}

/* Sign next with the account key after editing it; returns the bytes. */
static uint8_t *
signed_variant(dl_list *l, const uint8_t *sec, size_t *n)
{
	uint8_t *out = NULL;

	assert_int_equal(dl_sign_account(l, sec, &out, n), SOTTO_OK);
	return out;
}

static void
test_chain_rules(void **state)
{
	fixture *f = *state;
	dl_list p1, p2, l, pl;
	uint8_t *b;
	size_t n;

	assert_int_equal(dl_parse(&p1, f->b1, f->n1), SOTTO_OK);
	assert_int_equal(dl_parse(&p2, f->b2, f->n2), SOTTO_OK);

	/* version skip: 3 straight after 1 */
	l = f->l2;
	l.version = 3;
	b = signed_variant(&l, f->account.sec, &n);
	assert_int_equal(dl_parse(&pl, b, n), SOTTO_OK);
	assert_int_equal(dl_verify_next(&p1, f->h1, &pl, b, n), SOTTO_ERR_CHAIN);
	free(b);

	/* rollback: version 2 again after 2, and 1 after 2 */
	l = f->l2;
	l.prev_hash[0] ^= 1;
	b = signed_variant(&l, f->account.sec, &n);
	assert_int_equal(dl_parse(&pl, b, n), SOTTO_OK);
	assert_int_equal(dl_verify_next(&p2, f->h2, &pl, b, n), SOTTO_ERR_CHAIN);
	free(b);
	assert_int_equal(dl_verify_next(&p2, f->h2, &p1, f->b1, f->n1), SOTTO_ERR_CHAIN);

	/* prev_hash that is not the hash of the previous list */
	l = f->l2;
	l.prev_hash[31] ^= 0x80;
	b = signed_variant(&l, f->account.sec, &n);
	assert_int_equal(dl_parse(&pl, b, n), SOTTO_OK);
	assert_int_equal(dl_verify_next(&p1, f->h1, &pl, b, n), SOTTO_ERR_CHAIN);
	free(b);

	/* account key changed (signed by the new key, which is self-consistent) */
	l = f->l2;
	memcpy(l.account_pub, f->other.pub, SC_SIGN_PUB);
	b = signed_variant(&l, f->other.sec, &n);
	assert_int_equal(dl_parse(&pl, b, n), SOTTO_OK);
	assert_int_equal(dl_verify_next(&p1, f->h1, &pl, b, n), SOTTO_ERR_CHAIN);
	free(b);

	/* handle changed */
	l = f->l2;
	snprintf(l.handle, sizeof(l.handle), "mallory");
	b = signed_variant(&l, f->account.sec, &n);
	assert_int_equal(dl_parse(&pl, b, n), SOTTO_OK);
	assert_int_equal(dl_verify_next(&p1, f->h1, &pl, b, n), SOTTO_ERR_CHAIN);
	free(b);

	/* a struct that is not what the bytes say is never verified */
	pl = p2;
	pl.devices[1].enc_pub[0] ^= 1;
	assert_int_equal(dl_verify_next(&p1, f->h1, &pl, f->b2, f->n2), SOTTO_ERR_INVALID_ARG);
	pl = p1;
	pl.n_devices = 2;
	assert_int_equal(dl_verify_first(&pl, f->b1, f->n1), SOTTO_ERR_INVALID_ARG);
}

/* Offset of the first device record in a list with handle "alice". */
#define DEV0_OFF (4 + 1 + 5 + 32 + 8 + 32 + 8 + 1)
#define DEV_LEN(namelen) (16 + 1 + (namelen) + 32 + 32 + 8 + 16)

static void
test_parse_rejects(void **state)
{
	fixture *f = *state;
	uint8_t *b = malloc(f->n2 + 16);
	size_t n;
	dl_list l;

	assert_non_null(b);

	/* device id not matching its key (re-signed, so only the rule catches it) */
	memcpy(b, f->b1, f->n1);
	b[DEV0_OFF] ^= 1;
	resign(b, f->n1, (const uint8_t[SC_DEVICE_ID]){ 0 }, f->account.sec);
	assert_int_equal(dl_parse(&l, b, f->n1), SOTTO_ERR_FORMAT);
	assert_true(sc_is_zero(&l, sizeof(l)));

	/* duplicate ids: copy device 0 over device 1 ("laptop", "phone" differ in
	 * length, so write the record and fix the length) */
	memcpy(b, f->b2, DEV0_OFF + DEV_LEN(6));
	memcpy(b + DEV0_OFF + DEV_LEN(6), f->b2 + DEV0_OFF, DEV_LEN(6));
	n = DEV0_OFF + 2 * DEV_LEN(6) + TRAILER;
	resign(b, n, f->d1.id, f->d1.sec);
	assert_int_equal(dl_parse(&l, b, n), SOTTO_ERR_FORMAT);
	/* the same bytes with one of the two devices are fine */
	b[DEV0_OFF - 1] = 1;
	n = DEV0_OFF + DEV_LEN(6) + TRAILER;
	resign(b, n, f->d1.id, f->d1.sec);
	assert_int_equal(dl_parse(&l, b, n), SOTTO_OK);

	/* zero devices */
	memcpy(b, f->b1, DEV0_OFF);
	b[DEV0_OFF - 1] = 0;
	n = DEV0_OFF + TRAILER;
	resign(b, n, (const uint8_t[SC_DEVICE_ID]){ 0 }, f->account.sec);
	assert_int_equal(dl_parse(&l, b, n), SOTTO_ERR_FORMAT);

	/* more devices than the cap */
	memcpy(b, f->b1, f->n1);
	b[DEV0_OFF - 1] = SOTTO_MAX_DEVICES + 1;
	assert_int_not_equal(dl_parse(&l, b, f->n1), SOTTO_OK);

	/* bad magic, version 0, control character in a name, trailing byte */
	memcpy(b, f->b1, f->n1);
	b[3] = '2';
	resign(b, f->n1, (const uint8_t[SC_DEVICE_ID]){ 0 }, f->account.sec);
	assert_int_equal(dl_parse(&l, b, f->n1), SOTTO_ERR_FORMAT);
	memcpy(b, f->b1, f->n1);
	b[4 + 1 + 5 + 32 + 7] = 0;
	resign(b, f->n1, (const uint8_t[SC_DEVICE_ID]){ 0 }, f->account.sec);
	assert_int_equal(dl_parse(&l, b, f->n1), SOTTO_ERR_FORMAT);
	memcpy(b, f->b1, f->n1);
	b[DEV0_OFF + 16 + 1] = '\n';
	resign(b, f->n1, (const uint8_t[SC_DEVICE_ID]){ 0 }, f->account.sec);
	assert_int_equal(dl_parse(&l, b, f->n1), SOTTO_ERR_FORMAT);
	memcpy(b, f->b1, f->n1);
	b[f->n1] = 0;
	assert_int_equal(dl_parse(&l, b, f->n1 + 1), SOTTO_ERR_TRAILING);

	/* above the size cap */
	assert_int_equal(dl_parse(&l, f->b1, SOTTO_MAX_DEVICE_LIST + 1), SOTTO_ERR_TOO_LARGE);
	free(b);
}

/* Parse then verify altered bytes: must fail, must not crash. */
static int
accepts(const dl_list *prev, const uint8_t *prev_hash, const uint8_t *p, size_t n)
{
	dl_list l;

	if (dl_parse(&l, p, n) != SOTTO_OK)
		return 0;
	if (prev == NULL)
		return dl_verify_first(&l, p, n) == SOTTO_OK;
	return dl_verify_next(prev, prev_hash, &l, p, n) == SOTTO_OK;
}

static void
test_mutations(void **state)
{
	fixture *f = *state;
	dl_list p1, p2;
	uint8_t *b;
	size_t i, bit;

	assert_int_equal(dl_parse(&p1, f->b1, f->n1), SOTTO_OK);
	assert_int_equal(dl_parse(&p2, f->b2, f->n2), SOTTO_OK);
	assert_true(accepts(NULL, NULL, f->b1, f->n1));
	assert_true(accepts(&p1, f->h1, f->b2, f->n2));
	assert_true(accepts(&p2, f->h2, f->b3, f->n3));

	b = malloc(f->n2);
	assert_non_null(b);
	for (i = 0; i < f->n1; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(b, f->b1, f->n1);
			b[i] ^= (uint8_t)(1u << bit);
			assert_false(accepts(NULL, NULL, b, f->n1));
		}
	}
	for (i = 0; i < f->n2; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(b, f->b2, f->n2);
			b[i] ^= (uint8_t)(1u << bit);
			assert_false(accepts(&p1, f->h1, b, f->n2));
		}
	}
	free(b);
	/* truncation at every length, each in an exact-size buffer for ASan */
	for (i = 0; i < f->n2; i++) {
		b = malloc(i > 0 ? i : 1);
		assert_non_null(b);
		memcpy(b, f->b2, i);
		assert_false(accepts(&p1, f->h1, b, i));
		free(b);
	}
	for (i = 0; i < f->n1; i++) {
		b = malloc(i > 0 ? i : 1);
		assert_non_null(b);
		memcpy(b, f->b1, i);
		assert_false(accepts(NULL, NULL, b, i));
		free(b);
	}
}

static void
test_fingerprint(void **state)
{
	fixture *f = *state;
	char fp[DL_FINGERPRINT_LEN + 1], hex[65];
	uint8_t keys2[64], h[SC_SHA256];
	size_t i;

	memset(fp, 'X', sizeof(fp));
	dl_fingerprint(fp, &f->l1.devices[0]);
	assert_int_equal(strlen(fp), DL_FINGERPRINT_LEN);
	memcpy(keys2, f->d1.pub, 32);
	memcpy(keys2 + 32, f->d1.enc_pub, 32);
	sc_sha256(h, keys2, sizeof(keys2));
	sc_hex(hex, h, 32);
	for (i = 0; i < DL_FINGERPRINT_LEN; i++) {
		if (i % 5 == 4) {
			assert_int_equal(fp[i], ' ');
		} else {
			assert_true((fp[i] >= '0' && fp[i] <= '9') || (fp[i] >= 'a' && fp[i] <= 'f'));
			assert_int_equal(fp[i], hex[i - i / 5]);
		}
	}
}

static void
check_safety_format(const char *s)
{
	size_t i;

	assert_int_equal(strlen(s), SAFETY_NUMBER_LEN);
	for (i = 0; i < SAFETY_NUMBER_LEN; i++) {
		if (i % 6 == 5)
			assert_int_equal(s[i], ' ');
		else
			assert_true(s[i] >= '0' && s[i] <= '9');
	}
}

static void
test_safety_number(void **state)
{
	fixture *f = *state;
	char ab[SAFETY_NUMBER_LEN + 1], ba[SAFETY_NUMBER_LEN + 1], x[SAFETY_NUMBER_LEN + 1];
	uint8_t a[32], b[32];
	size_t i;

	/* known answer, computed independently (Python hashlib) from the documented rule */
	for (i = 0; i < 32; i++) {
		a[i] = (uint8_t)i;
		b[i] = (uint8_t)(0xff - i);
	}
	safety_number(ab, "alice", a, "bob", b);
	assert_string_equal(ab, "39907 57392 06243 36524 76690 13520 01825 34333 00967 32580 38920 46905");
	safety_number(ba, "bob", b, "alice", a);
	assert_string_equal(ab, ba);

	safety_number(ab, "alice", f->account.pub, "bob", f->other.pub);
	safety_number(ba, "bob", f->other.pub, "alice", f->account.pub);
	check_safety_format(ab);
	assert_string_equal(ab, ba);
	/* a different key for either side changes it */
	safety_number(x, "alice", f->d1.pub, "bob", f->other.pub);
	check_safety_format(x);
	assert_string_not_equal(x, ab);
	safety_number(x, "alice", f->account.pub, "bob", f->d1.pub);
	assert_string_not_equal(x, ab);
	/* so does a different handle */
	safety_number(x, "alicia", f->account.pub, "bob", f->other.pub);
	assert_string_not_equal(x, ab);
	/* same handle on both sides: ordered by key, still symmetric */
	safety_number(ab, "alice", f->account.pub, "alice", f->other.pub);
	safety_number(ba, "alice", f->other.pub, "alice", f->account.pub);
	assert_string_equal(ab, ba);
}

/* X25519 public keys of small order, canonical and not (libsodium's list of
 * has_small_order, plus the same with the ignored top bit set). */
static const char *const kx_low_order[] = {
	"0000000000000000000000000000000000000000000000000000000000000000",	/* 0 */
	"0100000000000000000000000000000000000000000000000000000000000000",	/* 1 */
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",	/* order 8 */
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",	/* order 8 */
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",	/* p - 1 */
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",	/* p (= 0) */
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",	/* p + 1 (= 1) */
	"0000000000000000000000000000000000000000000000000000000000000080",
	"0100000000000000000000000000000000000000000000000000000000000080",
	"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880",
	"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7",
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
};

/* Ed25519 encodings that are no usable key: the eight points of small order
 * (identity, order 2, the two of order 4 with both signs of x, the four of
 * order 8), y >= p (not canonical), and y with no x on the curve. */
static const char *const ed_bad[] = {
	"0100000000000000000000000000000000000000000000000000000000000000",	/* identity */
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",	/* order 2 */
	"0000000000000000000000000000000000000000000000000000000000000000",	/* order 4 */
	"0000000000000000000000000000000000000000000000000000000000000080",	/* order 4 */
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",	/* order 8 */
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",	/* order 8 */
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",	/* order 8 */
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",	/* order 8 */
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",	/* y = p */
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",	/* y = p + 1 */
	"0200000000000000000000000000000000000000000000000000000000000000",	/* not on the curve */
};

static void
unhex32(uint8_t out[32], const char *hex)
{
	for (size_t i = 0; i < 32; i++) {
		unsigned v;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

/*
 * A list holding a key no copy could be made for (or no signature checked
 * against) is invalid, checked in the verification both the server (at
 * publish) and clients run: SOTTO_ERR_BAD_KEY, before the signature.
 */
static void
test_bad_keys(void **state)
{
	fixture *f = *state;
	static const uint8_t zero[SC_DEVICE_ID];
	keys k;
	dl_list l, p;
	uint8_t *b = NULL, *at;
	size_t n = 0;

	assert_true(sc_kx_pub_valid(f->d1.enc_pub));
	assert_true(sc_sign_pub_valid(f->d1.pub));
	assert_true(sc_sign_pub_valid(f->account.pub));
	for (size_t i = 0; i < sizeof(kx_low_order) / sizeof(kx_low_order[0]); i++) {
		k = f->d2;
		unhex32(k.enc_pub, kx_low_order[i]);
		assert_false(sc_kx_pub_valid(k.enc_pub));
		/* in a first list, signed by the account key */
		base_list(&l, "alice", f->account.pub, 1, NULL);
		l.n_devices = 1;
		set_device(&l.devices[0], &k, "phone", zero);
		assert_int_equal(dl_sign_account(&l, f->account.sec, &b, &n), SOTTO_OK);
		assert_int_equal(dl_parse(&p, b, n), SOTTO_OK);
		assert_int_equal(dl_verify_first(&p, b, n), SOTTO_ERR_BAD_KEY);
		free(b);
		/* added by a device in the next version, validly chained */
		l = f->l2;
		set_device(&l.devices[1], &k, "phone", f->d1.id);
		assert_int_equal(dl_sign_device(&l, f->d1.id, f->d1.sec, &b, &n), SOTTO_OK);
		assert_int_equal(dl_parse(&p, b, n), SOTTO_OK);
		assert_int_equal(dl_verify_next(&f->l1, f->h1, &p, b, n), SOTTO_ERR_BAD_KEY);
		free(b);
	}
	for (size_t i = 0; i < sizeof(ed_bad) / sizeof(ed_bad[0]); i++) {
		k = f->d2;
		unhex32(k.pub, ed_bad[i]);
		sc_device_id(k.id, k.pub);
		assert_false(sc_sign_pub_valid(k.pub));
		/* a device's signing key */
		l = f->l2;
		set_device(&l.devices[1], &k, "phone", f->d1.id);
		assert_int_equal(dl_sign_device(&l, f->d1.id, f->d1.sec, &b, &n), SOTTO_OK);
		assert_int_equal(dl_parse(&p, b, n), SOTTO_OK);
		assert_int_equal(dl_verify_next(&f->l1, f->h1, &p, b, n), SOTTO_ERR_BAD_KEY);
		free(b);
		/* the account key (nobody can sign with it: the bytes are put in) */
		b = malloc(f->n1);
		assert_non_null(b);
		memcpy(b, f->b1, f->n1);
		at = memmem(b, f->n1, f->account.pub, SC_SIGN_PUB);
		assert_non_null(at);
		unhex32(at, ed_bad[i]);
		assert_int_equal(dl_parse(&p, b, f->n1), SOTTO_OK);
		assert_int_equal(dl_verify_first(&p, b, f->n1), SOTTO_ERR_BAD_KEY);
		free(b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_signer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signers_refuse_misuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_rejects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mutations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fingerprint, setup, teardown),
		cmocka_unit_test_setup_teardown(test_safety_number, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_keys, setup, teardown),
	};

	if (sc_init() != SOTTO_OK)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
