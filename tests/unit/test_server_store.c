/* SPDX-License-Identifier: ISC */
/*
 * Conformance of a store backend to store.h, run here against SQLite in a
 * temporary directory. A second backend runs the same cases.
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

#include "crypto.h"
#include "devicelist.h"
#include "sotto/error.h"
#include "store.h"

#define DAY_MS (24ULL * 3600 * 1000)

typedef struct fixture {
	char dir[64];
	char path[128];
	store *st;
} fixture;

static int
setup(void **state)
{
	fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	assert_int_equal(sc_init(), SOTTO_OK);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/sotto-store-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->path, sizeof(fx->path), "%s/sottod.db", fx->dir);
	assert_int_equal(store_sqlite_open(&fx->st, fx->path), SOTTO_OK);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	fixture *fx = *state;
	char p[160];

	fx->st->ops->close(fx->st);
	snprintf(p, sizeof(p), "%s-wal", fx->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", fx->path);
	unlink(p);
	unlink(fx->path);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static void
reopen(fixture *fx)
{
	fx->st->ops->close(fx->st);
	assert_int_equal(store_sqlite_open(&fx->st, fx->path), SOTTO_OK);
}

/* A chain of signed lists for handle: v1 by the account key, then each next
 * version signed by the first device of the previous one, adding a device. */
typedef struct chain {
	uint8_t account_pub[SC_SIGN_PUB], account_sec[SC_SIGN_SEC];
	uint8_t dev_sec[SOTTO_MAX_DEVICES][SC_SIGN_SEC];
	dl_list l;
	uint8_t *raw[8];
	size_t rawlen[8];
	size_t n;
} chain;

static void
add_device(dl_list *l, uint8_t sec[SC_SIGN_SEC], const char *name)
{
	dl_device *d = &l->devices[l->n_devices++];
	uint8_t kx_sec[SC_KX_SEC];

	memset(d, 0, sizeof(*d));
	sc_sign_keypair(d->sig_pub, sec);
	sc_kx_keypair(d->enc_pub, kx_sec);
	sc_device_id(d->id, d->sig_pub);
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->added_at = 1000;
}

static void
chain_init(chain *c, const char *handle, size_t versions)
{
	memset(c, 0, sizeof(*c));
	sc_sign_keypair(c->account_pub, c->account_sec);
	snprintf(c->l.handle, sizeof(c->l.handle), "%s", handle);
	memcpy(c->l.account_pub, c->account_pub, SC_SIGN_PUB);
	c->l.version = 1;
	c->l.created_at = 1000;
	add_device(&c->l, c->dev_sec[0], "first");
	assert_int_equal(dl_sign_account(&c->l, c->account_sec, &c->raw[0], &c->rawlen[0]), SOTTO_OK);
	for (c->n = 1; c->n < versions; c->n++) {
		uint8_t signer[SC_DEVICE_ID];

		memcpy(signer, c->l.devices[0].id, SC_DEVICE_ID);
		dl_hash(c->l.prev_hash, c->raw[c->n - 1], c->rawlen[c->n - 1]);
		c->l.version++;
		add_device(&c->l, c->dev_sec[c->l.n_devices], "more");
		assert_int_equal(dl_sign_device(&c->l, signer, c->dev_sec[0], &c->raw[c->n],
		    &c->rawlen[c->n]), SOTTO_OK);
	}
}

static void
chain_free(chain *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->raw[i]);
}

static void
put_chain(store *st, const char *handle, chain *c)
{
	dl_list l;

	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->account_add(st, handle, c->account_pub, 5), SOTTO_OK);
	for (size_t i = 0; i < c->n; i++) {
		assert_int_equal(dl_parse(&l, c->raw[i], c->rawlen[i]), SOTTO_OK);
		assert_int_equal(st->ops->list_add(st, &l, c->raw[i], c->rawlen[i]), SOTTO_OK);
	}
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
}

static void
test_accounts_and_history(void **state)
{
	fixture *fx = *state;
	store *st = fx->st;
	chain c;
	store_blob *b = NULL;
	uint8_t *cur = NULL;
	size_t n = 0, len = 0;
	uint64_t v = 0;
	int more = -1;
	dl_list l;

	chain_init(&c, "alice", 4);
	assert_int_equal(st->ops->account_exists(st, "alice"), 0);
	assert_int_equal(st->ops->list_current(st, "alice", &cur, &len, &v), SOTTO_ERR_NOT_FOUND);
	assert_int_equal(st->ops->list_history(st, "alice", 0, 10, 1 << 20, &b, &n, &more),
	    SOTTO_ERR_NOT_FOUND);
	put_chain(st, "alice", &c);
	assert_int_equal(st->ops->account_exists(st, "alice"), 1);
	assert_int_equal(st->ops->account_exists(st, "bob"), 0);

	/* a second account with the same handle is refused, and rollback undoes */
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->account_add(st, "alice", c.account_pub, 6), SOTTO_ERR_HANDLE_TAKEN);
	st->ops->rollback(st);
	/* a version stored twice is refused */
	assert_int_equal(dl_parse(&l, c.raw[1], c.rawlen[1]), SOTTO_OK);
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->list_add(st, &l, c.raw[1], c.rawlen[1]), SOTTO_ERR_EXISTS);
	st->ops->rollback(st);

	assert_int_equal(st->ops->list_current(st, "alice", &cur, &len, &v), SOTTO_OK);
	assert_int_equal(v, 4);
	assert_int_equal(len, c.rawlen[3]);
	assert_memory_equal(cur, c.raw[3], len);
	free(cur);

	/* everything after version 1, oldest first */
	assert_int_equal(st->ops->list_history(st, "alice", 1, 10, 1 << 20, &b, &n, &more), SOTTO_OK);
	assert_int_equal(n, 3);
	assert_int_equal(more, 0);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(b[i].len, c.rawlen[i + 1]);
		assert_memory_equal(b[i].p, c.raw[i + 1], b[i].len);
	}
	store_blobs_free(b, n);
	/* cut by count */
	assert_int_equal(st->ops->list_history(st, "alice", 0, 2, 1 << 20, &b, &n, &more), SOTTO_OK);
	assert_int_equal(n, 2);
	assert_int_equal(more, 1);
	assert_memory_equal(b[0].p, c.raw[0], c.rawlen[0]);
	store_blobs_free(b, n);
	/* cut by bytes, but never below one list */
	assert_int_equal(st->ops->list_history(st, "alice", 0, 10, 1, &b, &n, &more), SOTTO_OK);
	assert_int_equal(n, 1);
	assert_int_equal(more, 1);
	store_blobs_free(b, n);
	/* nothing newer */
	assert_int_equal(st->ops->list_history(st, "alice", 4, 10, 1 << 20, &b, &n, &more), SOTTO_OK);
	assert_int_equal(n, 0);
	assert_int_equal(more, 0);
	store_blobs_free(b, n);

	/* survives a reopen */
	reopen(fx);
	st = fx->st;
	assert_int_equal(st->ops->list_current(st, "alice", &cur, &len, &v), SOTTO_OK);
	assert_int_equal(v, 4);
	free(cur);
	chain_free(&c);
}

static void
test_invites(void **state)
{
	fixture *fx = *state;
	store *st = fx->st;
	uint8_t h1[SC_SHA256], h2[SC_SHA256], h3[SC_SHA256];
	uint64_t now = 100 * DAY_MS, max_age = 7 * DAY_MS;

	sc_random(h1, sizeof(h1));
	sc_random(h2, sizeof(h2));
	sc_random(h3, sizeof(h3));
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->invite_add(st, h1, "bob", now), SOTTO_OK);
	assert_int_equal(st->ops->invite_add(st, h2, "bob", now - 8 * DAY_MS), SOTTO_OK);
	assert_int_equal(st->ops->invite_add(st, h3, "carol", now), SOTTO_OK);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	reopen(fx);
	st = fx->st;

	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	/* wrong handle, unknown secret, expired */
	assert_int_equal(st->ops->invite_take(st, h1, "carol", now, max_age), SOTTO_ERR_INVITE);
	assert_int_equal(st->ops->invite_take(st, h3, "bob", now, max_age), SOTTO_ERR_INVITE);
	assert_int_equal(st->ops->invite_take(st, h2, "bob", now, max_age), SOTTO_ERR_INVITE);
	/* the good one once, then never again */
	assert_int_equal(st->ops->invite_take(st, h1, "bob", now, max_age), SOTTO_OK);
	assert_int_equal(st->ops->invite_take(st, h1, "bob", now, max_age), SOTTO_ERR_INVITE);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);

	/* a take that is rolled back leaves the invite usable */
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->invite_take(st, h3, "carol", now, max_age), SOTTO_OK);
	st->ops->rollback(st);
	reopen(fx);
	st = fx->st;
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->invite_take(st, h1, "bob", now, max_age), SOTTO_ERR_INVITE);
	assert_int_equal(st->ops->invite_take(st, h3, "carol", now, max_age), SOTTO_OK);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
}

static void
make_copy(store_copy *c, const uint8_t dev[SC_DEVICE_ID], uint8_t msg, const char *body,
    uint64_t now, uint64_t expires)
{
	static uint8_t wrap[80];

	memset(c, 0, sizeof(*c));
	memcpy(c->device_id, dev, SC_DEVICE_ID);
	memset(c->msg_id, msg, STORE_MSG_ID_LEN);
	c->envelope = (uint8_t *)body;
	c->envelope_len = strlen(body);
	memset(wrap, msg, sizeof(wrap));
	c->wrap = wrap;
	c->wrap_len = sizeof(wrap);
	c->stored_at = now;
	c->expires_at = expires;
}

static uint64_t
add(store *st, const uint8_t dev[SC_DEVICE_ID], uint8_t msg, const char *body, uint64_t now,
    uint64_t expires)
{
	store_copy c;
	uint64_t seq = 99;

	make_copy(&c, dev, msg, body, now, expires);
	assert_int_equal(st->ops->copy_add(st, &c, &seq), SOTTO_OK);
	return seq;
}

static void
test_mailbox(void **state)
{
	fixture *fx = *state;
	store *st = fx->st;
	uint8_t d1[SC_DEVICE_ID], d2[SC_DEVICE_ID];
	uint64_t now = 1000000, exp = now + DAY_MS, s1, s2, s3, s4, dup, count, acks[3];
	store_copy *c = NULL;
	size_t n = 0, deleted = 0;
	int more = -1;

	memset(d1, 1, sizeof(d1));
	memset(d2, 2, sizeof(d2));
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	s1 = add(st, d1, 1, "one", now, exp);
	s2 = add(st, d1, 2, "two", now, exp);
	s3 = add(st, d2, 1, "for d2", now, exp);
	s4 = add(st, d1, 3, "three", now, exp);
	assert_true(s1 > 0 && s2 > s1 && s3 > s2 && s4 > s3);
	/* idempotent: the same (device, msg id) again is no new copy */
	dup = add(st, d1, 2, "two again", now, exp);
	assert_int_equal(dup, 0);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);

	assert_int_equal(st->ops->copy_count(st, d1, now, &count), SOTTO_OK);
	assert_int_equal(count, 3);
	assert_int_equal(st->ops->copy_count(st, d2, now, &count), SOTTO_OK);
	assert_int_equal(count, 1);

	/* per device, oldest first, cut by max */
	assert_int_equal(st->ops->copy_fetch(st, d1, now, 2, 1 << 20, &c, &n, &more), SOTTO_OK);
	assert_int_equal(n, 2);
	assert_int_equal(more, 1);
	assert_int_equal(c[0].seq, s1);
	assert_int_equal(c[1].seq, s2);
	assert_int_equal(c[1].envelope_len, 3);
	assert_memory_equal(c[1].envelope, "two", 3);
	assert_int_equal(c[1].wrap_len, 80);
	assert_int_equal(c[1].wrap[0], 2);
	assert_int_equal(c[1].msg_id[0], 2);
	assert_int_equal(c[1].stored_at, now);
	assert_int_equal(c[1].expires_at, exp);
	assert_memory_equal(c[1].device_id, d1, SC_DEVICE_ID);
	store_copies_free(c, n);
	/* cut by bytes, but at least one */
	assert_int_equal(st->ops->copy_fetch(st, d1, now, 0, 1, &c, &n, &more), SOTTO_OK);
	assert_int_equal(n, 1);
	assert_int_equal(more, 1);
	store_copies_free(c, n);
	assert_int_equal(st->ops->copy_fetch(st, d2, now, 0, 1 << 20, &c, &n, &more), SOTTO_OK);
	assert_int_equal(n, 1);
	assert_int_equal(more, 0);
	assert_int_equal(c[0].seq, s3);
	store_copies_free(c, n);

	/* ack: d1 acknowledging d2's seq deletes nothing of d2 */
	acks[0] = s1;
	acks[1] = s3;
	acks[2] = 123456;
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->copy_ack(st, d1, acks, 3, &deleted), SOTTO_OK);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(deleted, 1);
	assert_int_equal(st->ops->copy_count(st, d2, now, &count), SOTTO_OK);
	assert_int_equal(count, 1);
	assert_int_equal(st->ops->copy_count(st, d1, now, &count), SOTTO_OK);
	assert_int_equal(count, 2);

	/* an acknowledged copy may be queued again by a retry: it is a new seq */
	reopen(fx);
	st = fx->st;
	assert_int_equal(st->ops->copy_fetch(st, d1, now, 0, 1 << 20, &c, &n, &more), SOTTO_OK);
	assert_int_equal(n, 2);
	assert_int_equal(c[0].seq, s2);
	assert_int_equal(c[1].seq, s4);
	store_copies_free(c, n);
}

static void
test_savepoints(void **state)
{
	fixture *fx = *state;
	store *st = fx->st;
	uint8_t d1[SC_DEVICE_ID];
	uint64_t now = 5000, exp = now + DAY_MS, count;

	memset(d1, 7, sizeof(d1));
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->mark(st), SOTTO_OK);
	add(st, d1, 1, "kept", now, exp);
	assert_int_equal(st->ops->release(st), SOTTO_OK);
	assert_int_equal(st->ops->mark(st), SOTTO_OK);
	add(st, d1, 2, "undone", now, exp);
	add(st, d1, 3, "undone too", now, exp);
	st->ops->undo(st);
	assert_int_equal(st->ops->mark(st), SOTTO_OK);
	add(st, d1, 4, "kept too", now, exp);
	assert_int_equal(st->ops->release(st), SOTTO_OK);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(st->ops->copy_count(st, d1, now, &count), SOTTO_OK);
	assert_int_equal(count, 2);
	/* outside a transaction, savepoints are a misuse */
	assert_int_not_equal(st->ops->mark(st), SOTTO_OK);
}

static void
test_expiry(void **state)
{
	fixture *fx = *state;
	store *st = fx->st;
	uint8_t d1[SC_DEVICE_ID];
	uint64_t now = 10 * DAY_MS, count, s_live;
	store_copy *c = NULL;
	size_t n = 0, deleted = 0;
	int more;

	memset(d1, 3, sizeof(d1));
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	add(st, d1, 1, "old", now - 2 * DAY_MS, now - 1);
	add(st, d1, 2, "at the edge", now - DAY_MS, now);
	s_live = add(st, d1, 3, "live", now, now + 1);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);

	/* expired copies are neither counted nor delivered, even before a sweep */
	assert_int_equal(st->ops->copy_count(st, d1, now, &count), SOTTO_OK);
	assert_int_equal(count, 1);
	assert_int_equal(st->ops->copy_fetch(st, d1, now, 0, 1 << 20, &c, &n, &more), SOTTO_OK);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].seq, s_live);
	store_copies_free(c, n);

	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->copy_sweep(st, now, &deleted), SOTTO_OK);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(deleted, 2);
	reopen(fx);
	st = fx->st;
	assert_int_equal(st->ops->copy_count(st, d1, 0, &count), SOTTO_OK);
	assert_int_equal(count, 1);
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->copy_sweep(st, now + 1, &deleted), SOTTO_OK);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(deleted, 1);
}

static void
test_cap_counting(void **state)
{
	fixture *fx = *state;
	store *st = fx->st;
	uint8_t d1[SC_DEVICE_ID];
	uint64_t now = 777, count, s;

	memset(d1, 9, sizeof(d1));
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(st->ops->copy_count(st, d1, now, &count), SOTTO_OK);
		/* uncommitted writes of this transaction are counted too */
		assert_int_equal(count, (uint64_t)i);
		s = add(st, d1, (uint8_t)i, "x", now, now + 1000);
		assert_true(s > 0);
	}
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(st->ops->copy_count(st, d1, now, &count), SOTTO_OK);
	assert_int_equal(count, 50);
	/* and a rolled-back batch adds nothing */
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	add(st, d1, 200, "y", now, now + 1000);
	st->ops->rollback(st);
	assert_int_equal(st->ops->copy_count(st, d1, now, &count), SOTTO_OK);
	assert_int_equal(count, 50);
}

static void
test_bad_args(void **state)
{
	fixture *fx = *state;
	store *st = fx->st;
	store_copy c;
	uint8_t d1[SC_DEVICE_ID], big[300];
	uint64_t seq;

	memset(d1, 4, sizeof(d1));
	make_copy(&c, d1, 1, "x", 1, 2);
	c.wrap = big;
	c.wrap_len = sizeof(big);
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->copy_add(st, &c, &seq), SOTTO_ERR_TOO_LARGE);
	assert_int_equal(seq, 0);
	st->ops->rollback(st);
	/* commit or begin twice is a misuse, not a crash */
	assert_int_not_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_not_equal(st->ops->begin(st), SOTTO_OK);
	st->ops->rollback(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_accounts_and_history, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invites, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mailbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_savepoints, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap_counting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
