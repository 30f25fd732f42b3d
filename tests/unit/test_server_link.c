/* SPDX-License-Identifier: ISC */
/*
 * The linking rendezvous and queue purge ops of the SQLite store (store.h):
 * single use, expiry, the live-entry cap, size caps, and that a purge deletes
 * one device's copies only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "sotto/error.h"
#include "store.h"

typedef struct fixture {
	char dir[64];
	char path[128];
	store *st;
} fixture;

static int
setup(void **state)
{
	fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/sotto-link-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/s.db", f->dir);
	assert_int_equal(store_sqlite_open(&f->st, f->path), SOTTO_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	fixture *f = *state;
	char p[160];

	f->st->ops->close(f->st);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

static const uint8_t rdv_owner[STORE_RDV_OWNER_LEN];

static void
rendezvous(void **state)
{
	fixture *f = *state;
	store *st = f->st;
	uint8_t id[STORE_RDV_ID_LEN] = { 1 }, id2[STORE_RDV_ID_LEN] = { 2 }, big[SOTTO_MAX_LINK_BLOB + 1];
	uint8_t *b = NULL;
	size_t n = 0;

	memset(big, 7, sizeof(big));
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->rdv_put(st, id, 0, (const uint8_t *)"offer", 5, 1000, 2000, 10, rdv_owner, 1000), SOTTO_OK);
	/* Once per (id, slot); the other slot is free. */
	assert_int_equal(st->ops->rdv_put(st, id, 0, (const uint8_t *)"again", 5, 1000, 2000, 10, rdv_owner, 1000), SOTTO_ERR_EXISTS);
	assert_int_equal(st->ops->rdv_put(st, id, 1, big, sizeof(big), 1000, 2000, 10, rdv_owner, 1000), SOTTO_ERR_TOO_LARGE);
	assert_int_equal(st->ops->rdv_put(st, id, 1, big, 0, 1000, 2000, 10, rdv_owner, 1000), SOTTO_ERR_TOO_LARGE);
	/* Peeking does not spend it; taking does, once. */
	assert_int_equal(st->ops->rdv_take(st, id, 0, 1500, 0, &b, &n), SOTTO_OK);
	assert_int_equal(n, 5);
	assert_memory_equal(b, "offer", 5);
	free(b);
	assert_int_equal(st->ops->rdv_take(st, id, 1, 1500, 0, &b, &n), SOTTO_ERR_NOT_FOUND);
	assert_null(b);
	assert_int_equal(st->ops->rdv_take(st, id, 0, 1500, 1, &b, &n), SOTTO_OK);
	free(b);
	assert_int_equal(st->ops->rdv_take(st, id, 0, 1500, 1, &b, &n), SOTTO_ERR_NOT_FOUND);
	assert_int_equal(st->ops->rdv_take(st, id, 0, 1500, 0, &b, &n), SOTTO_ERR_NOT_FOUND);
	/* A spent entry still blocks its id until it expires. */
	assert_int_equal(st->ops->rdv_put(st, id, 0, (const uint8_t *)"x", 1, 1600, 2600, 10, rdv_owner, 1000), SOTTO_ERR_EXISTS);
	/* Expiry: not readable at expires_at, swept by the next put. */
	assert_int_equal(st->ops->rdv_put(st, id2, 0, (const uint8_t *)"y", 1, 1600, 3000, 10, rdv_owner, 1000), SOTTO_OK);
	assert_int_equal(st->ops->rdv_take(st, id2, 0, 3000, 0, &b, &n), SOTTO_ERR_NOT_FOUND);
	assert_int_equal(st->ops->rdv_put(st, id, 0, (const uint8_t *)"z", 1, 3000, 4000, 10, rdv_owner, 1000), SOTTO_OK);
	/* The live cap. */
	assert_int_equal(st->ops->rdv_put(st, id2, 0, (const uint8_t *)"w", 1, 3000, 4000, 1, rdv_owner, 1000), SOTTO_ERR_RATE_LIMITED);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	/* Consuming needs a transaction. */
	assert_int_equal(st->ops->rdv_take(st, id, 0, 3000, 1, &b, &n), SOTTO_ERR_INTERNAL);
	/* Nothing written by a rolled-back transaction. */
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->rdv_take(st, id, 0, 3000, 1, &b, &n), SOTTO_OK);
	free(b);
	st->ops->rollback(st);
	assert_int_equal(st->ops->rdv_take(st, id, 0, 3000, 0, &b, &n), SOTTO_OK);
	free(b);
}

static void
purge(void **state)
{
	fixture *f = *state;
	store *st = f->st;
	store_copy c;
	uint8_t a[SC_DEVICE_ID] = { 0xa }, other[SC_DEVICE_ID] = { 0xb }, env[8] = { 1 }, wrap[80] = { 2 };
	uint64_t seq, count;
	size_t deleted = 9;

	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	for (int i = 0; i < 3; i++) {
		memset(&c, 0, sizeof(c));
		memcpy(c.device_id, i < 2 ? a : other, SC_DEVICE_ID);
		c.msg_id[0] = (uint8_t)i;
		c.envelope = env;
		c.envelope_len = sizeof(env);
		c.wrap = wrap;
		c.wrap_len = sizeof(wrap);
		c.stored_at = 1;
		c.expires_at = 100;
		assert_int_equal(st->ops->copy_add(st, "alice", &c, &seq), SOTTO_OK);
	}
	assert_int_equal(st->ops->copy_purge(st, "alice", a, &deleted), SOTTO_OK);
	assert_int_equal(deleted, 2);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(st->ops->copy_count(st, "alice", a, 1, &count), SOTTO_OK);
	assert_int_equal(count, 0);
	assert_int_equal(st->ops->copy_count(st, "alice", other, 1, &count), SOTTO_OK);
	assert_int_equal(count, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(rendezvous, setup, teardown),
		cmocka_unit_test_setup_teardown(purge, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
