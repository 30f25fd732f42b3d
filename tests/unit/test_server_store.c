/* SPDX-License-Identifier: ISC */
/*
 * Conformance of a store backend to store.h: every case runs against SQLite in
 * a temporary directory, then against PostgreSQL when SOTTO_TEST_PG holds a
 * conninfo (URL or key=value) of a role that may create databases: each case
 * gets a database of its own, dropped afterwards, so runs never collide.
 */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include "crypto.h"
#include "devicelist.h"
#include "sotto/error.h"
#include "store.h"

#define DAY_MS (24ULL * 3600 * 1000)

typedef struct fixture {
	int pg;				/* 0: SQLite, 1: PostgreSQL */
	char dir[64];
	char path[128];
	char dbname[64];
	char conninfo[2048];		/* SOTTO_TEST_PG pointed at dbname */
	store_wakegroup g;		/* SQLite: two workers */
	store *st;
} fixture;

static int backend_pg;		/* which backend the cases of this group run on */
static unsigned db_counter;

/* The admin connection string of SOTTO_TEST_PG with dbname replaced: parsed by
 * libpq (so URLs work too) and written back as quoted key='value' pairs. */
static void
conninfo_with_db(char *out, size_t outlen, const char *base, const char *db)
{
	PQconninfoOption *o, *opts;
	char *err = NULL;
	size_t used = 0;
	int k;

	opts = PQconninfoParse(base, &err);
	assert_non_null(opts);
	out[0] = '\0';
	for (o = opts; o->keyword != NULL; o++) {
		const char *v = strcmp(o->keyword, "dbname") == 0 ? db : o->val;

		if (v == NULL || strchr(v, '\'') != NULL || strchr(v, '\\') != NULL)
			continue;
		k = snprintf(out + used, outlen - used, "%s%s='%s'", used ? " " : "", o->keyword, v);
		assert_true(k > 0 && (size_t)k < outlen - used);
		used += (size_t)k;
	}
	if (strstr(out, "dbname=") == NULL) {
		k = snprintf(out + used, outlen - used, " dbname='%s'", db);
		assert_true(k > 0 && (size_t)k < outlen - used);
	}
	PQconninfoFree(opts);
}

static void
pg_admin(const char *sql)
{
	PGconn *c = PQconnectdb(getenv("SOTTO_TEST_PG"));
	PGresult *r;

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

static void
open_store(fixture *fx, store **out)
{
	if (fx->pg)
		assert_int_equal(store_pg_open(out, fx->conninfo), SOTTO_OK);
	else
		assert_int_equal(store_sqlite_open(out, fx->path), SOTTO_OK);
}

static int
setup(void **state)
{
	fixture *fx = calloc(1, sizeof(*fx));
	char sql[128];

	assert_non_null(fx);
	assert_int_equal(sc_init(), SOTTO_OK);
	fx->pg = backend_pg;
	if (fx->pg) {
		snprintf(fx->dbname, sizeof(fx->dbname), "sotto_test_%ld_%u", (long)getpid(), db_counter++);
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s", fx->dbname);
		pg_admin(sql);
		conninfo_with_db(fx->conninfo, sizeof(fx->conninfo), getenv("SOTTO_TEST_PG"), fx->dbname);
	} else {
		snprintf(fx->dir, sizeof(fx->dir), "/tmp/sotto-store-XXXXXX");
		assert_non_null(mkdtemp(fx->dir));
		snprintf(fx->path, sizeof(fx->path), "%s/sottod.db", fx->dir);
	}
	open_store(fx, &fx->st);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	fixture *fx = *state;
	char p[160];

	fx->st->ops->close(fx->st);
	store_wakegroup_close(&fx->g);
	if (fx->pg) {
		snprintf(p, sizeof(p), "DROP DATABASE %s WITH (FORCE)", fx->dbname);
		pg_admin(p);
	} else {
		snprintf(p, sizeof(p), "%s-wal", fx->path);
		unlink(p);
		snprintf(p, sizeof(p), "%s-shm", fx->path);
		unlink(p);
		unlink(fx->path);
		rmdir(fx->dir);
	}
	free(fx);
	return 0;
}

static void
reopen(fixture *fx)
{
	fx->st->ops->close(fx->st);
	open_store(fx, &fx->st);
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
		assert_int_equal(st->ops->list_add(st, &l, c->raw[i], c->rawlen[i], 100 + i), SOTTO_OK);
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
	assert_int_equal(st->ops->list_add(st, &l, c.raw[1], c.rawlen[1], 900), SOTTO_ERR_EXISTS);
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
	/* nor after any number a peer may send (2^63 and up: not a storage error) */
	assert_int_equal(st->ops->list_history(st, "alice", UINT64_MAX, 10, 1 << 20, &b, &n, &more), SOTTO_OK);
	assert_int_equal(n, 0);
	store_blobs_free(b, n);
	assert_int_equal(st->ops->list_history(st, "alice", (uint64_t)INT64_MAX + 1, 10, 1 << 20, &b, &n, &more),
	    SOTTO_OK);
	assert_int_equal(n, 0);
	store_blobs_free(b, n);

	/* when they were published: the newest max versions, after since */
	assert_int_equal(st->ops->list_recent(st, "alice", 101, 10, &v), SOTTO_OK);
	assert_int_equal(v, 2);
	assert_int_equal(st->ops->list_recent(st, "alice", 101, 1, &v), SOTTO_OK);
	assert_int_equal(v, 1);
	assert_int_equal(st->ops->list_recent(st, "alice", 0, 3, &v), SOTTO_OK);
	assert_int_equal(v, 3);
	assert_int_equal(st->ops->list_recent(st, "alice", 103, 10, &v), SOTTO_OK);
	assert_int_equal(v, 0);
	assert_int_equal(st->ops->list_recent(st, "bob", 0, 10, &v), SOTTO_OK);
	assert_int_equal(v, 0);
	assert_int_equal(st->ops->list_recent(st, "alice", 0, 0, &v), SOTTO_ERR_INVALID_ARG);
	/* a recovery's budget is twice the largest cap (directory.c dir_publish_room) */
	assert_int_equal(st->ops->list_recent(st, "alice", 0, STORE_LIST_RECENT_MAX, &v), SOTTO_OK);
	assert_int_equal(v, 4);
	assert_int_equal(st->ops->list_recent(st, "alice", 0, STORE_LIST_RECENT_MAX + 1, &v),
	    SOTTO_ERR_INVALID_ARG);

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

/* The account most cases queue for (a queue is account and device). */
#define ACCT "alice"

static uint64_t
add_for(store *st, const char *account, const uint8_t dev[SC_DEVICE_ID], uint8_t msg, const char *body,
    uint64_t now, uint64_t expires)
{
	store_copy c;
	uint64_t seq = 99;

	make_copy(&c, dev, msg, body, now, expires);
	assert_int_equal(st->ops->copy_add(st, account, &c, &seq), SOTTO_OK);
	return seq;
}

static uint64_t
add(store *st, const uint8_t dev[SC_DEVICE_ID], uint8_t msg, const char *body, uint64_t now,
    uint64_t expires)
{
	store_copy c;
	uint64_t seq = 99;

	make_copy(&c, dev, msg, body, now, expires);
	assert_int_equal(st->ops->copy_add(st, ACCT, &c, &seq), SOTTO_OK);
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

	assert_int_equal(st->ops->copy_count(st, ACCT, d1, now, &count), SOTTO_OK);
	assert_int_equal(count, 3);
	assert_int_equal(st->ops->copy_count(st, ACCT, d2, now, &count), SOTTO_OK);
	assert_int_equal(count, 1);

	/* per device, oldest first, cut by max */
	assert_int_equal(st->ops->copy_fetch(st, ACCT, d1, now, 2, 1 << 20, &c, &n, &more), SOTTO_OK);
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
	assert_int_equal(st->ops->copy_fetch(st, ACCT, d1, now, 0, 1, &c, &n, &more), SOTTO_OK);
	assert_int_equal(n, 1);
	assert_int_equal(more, 1);
	store_copies_free(c, n);
	assert_int_equal(st->ops->copy_fetch(st, ACCT, d2, now, 0, 1 << 20, &c, &n, &more), SOTTO_OK);
	assert_int_equal(n, 1);
	assert_int_equal(more, 0);
	assert_int_equal(c[0].seq, s3);
	store_copies_free(c, n);

	/* ack: d1 acknowledging d2's seq deletes nothing of d2 */
	acks[0] = s1;
	acks[1] = s3;
	acks[2] = 123456;
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->copy_ack(st, ACCT, d1, acks, 3, &deleted), SOTTO_OK);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(deleted, 1);
	assert_int_equal(st->ops->copy_count(st, ACCT, d2, now, &count), SOTTO_OK);
	assert_int_equal(count, 1);
	assert_int_equal(st->ops->copy_count(st, ACCT, d1, now, &count), SOTTO_OK);
	assert_int_equal(count, 2);

	/* an acknowledged copy may be queued again by a retry: it is a new seq */
	reopen(fx);
	st = fx->st;
	assert_int_equal(st->ops->copy_fetch(st, ACCT, d1, now, 0, 1 << 20, &c, &n, &more), SOTTO_OK);
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
	assert_int_equal(st->ops->copy_count(st, ACCT, d1, now, &count), SOTTO_OK);
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
	assert_int_equal(st->ops->copy_count(st, ACCT, d1, now, &count), SOTTO_OK);
	assert_int_equal(count, 1);
	assert_int_equal(st->ops->copy_fetch(st, ACCT, d1, now, 0, 1 << 20, &c, &n, &more), SOTTO_OK);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].seq, s_live);
	store_copies_free(c, n);

	/* a bounded sweep: one of the two expired, then the other, then none */
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->copy_sweep(st, now, 1, &deleted), SOTTO_OK);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(deleted, 1);
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->copy_sweep(st, now, 5, &deleted), SOTTO_OK);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(deleted, 1);
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->copy_sweep(st, now, 5, &deleted), SOTTO_OK);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(deleted, 0);
	reopen(fx);
	st = fx->st;
	assert_int_equal(st->ops->copy_count(st, ACCT, d1, 0, &count), SOTTO_OK);
	assert_int_equal(count, 1);
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->copy_sweep(st, now + 1, 1000, &deleted), SOTTO_OK);
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
		assert_int_equal(st->ops->copy_count(st, ACCT, d1, now, &count), SOTTO_OK);
		/* uncommitted writes of this transaction are counted too */
		assert_int_equal(count, (uint64_t)i);
		s = add(st, d1, (uint8_t)i, "x", now, now + 1000);
		assert_true(s > 0);
	}
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(st->ops->copy_count(st, ACCT, d1, now, &count), SOTTO_OK);
	assert_int_equal(count, 50);
	/* and a rolled-back batch adds nothing */
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	add(st, d1, 200, "y", now, now + 1000);
	st->ops->rollback(st);
	assert_int_equal(st->ops->copy_count(st, ACCT, d1, now, &count), SOTTO_OK);
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
	assert_int_equal(st->ops->copy_add(st, ACCT, &c, &seq), SOTTO_ERR_TOO_LARGE);
	assert_int_equal(seq, 0);
	st->ops->rollback(st);
	/* commit or begin twice is a misuse, not a crash */
	assert_int_not_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_not_equal(st->ops->begin(st), SOTTO_OK);
	st->ops->rollback(st);
}

/* Wake-ups collected by a drain. */
typedef struct got_wakes {
	store_wake w[16];
	size_t n;
} got_wakes;

static void
collect(void *arg, const store_wake *w)
{
	got_wakes *g = arg;

	if (g->n < 16)
		g->w[g->n++] = *w;
}

/* Drain b until want wake-ups came or 3 s passed (polling its descriptor). */
static void
wait_wakes(store *b, got_wakes *g, size_t want)
{
	struct pollfd pfd = { .fd = b->ops->wake_fd(b), .events = POLLIN };

	assert_true(pfd.fd >= 0);
	for (int i = 0; i < 30 && g->n < want; i++) {
		assert_int_equal(b->ops->wake_drain(b, 0, collect, g), SOTTO_OK);
		if (g->n >= want)
			break;
		if (poll(&pfd, 1, 100) > 0)
			assert_int_equal(b->ops->wake_drain(b, 1, collect, g), SOTTO_OK);
	}
}

/* Two stores on one backend (SQLite: two workers of a node; PostgreSQL: two
 * nodes): what one commits wakes the other, what it rolls back does not, and
 * nobody is woken by its own announcement. */
static void
test_wakeups(void **state)
{
	fixture *fx = *state;
	store *a = fx->st, *b = NULL;
	store_wake w, l;
	got_wakes ga, gb;
	uint8_t d1[SC_DEVICE_ID];

	open_store(fx, &b);
	if (!fx->pg) {
		/* not joined yet: no wake-up path, announcing is a no-op */
		assert_int_equal(a->ops->wake_fd(a), -1);
		assert_int_equal(store_wakegroup_make(&fx->g, 2), SOTTO_OK);
		assert_int_equal(store_sqlite_join(a, &fx->g, 0), SOTTO_OK);
		assert_int_equal(store_sqlite_join(b, &fx->g, 1), SOTTO_OK);
		assert_int_equal(store_sqlite_join(b, &fx->g, 2), SOTTO_ERR_INVALID_ARG);
	}
	memset(d1, 0xd1, sizeof(d1));
	memset(&w, 0, sizeof(w));
	w.kind = STORE_WAKE_COPY;
	memcpy(w.device_id, d1, SC_DEVICE_ID);
	w.seq = 42;
	memset(&l, 0, sizeof(l));
	l.kind = STORE_WAKE_LIST;
	snprintf(l.handle, sizeof(l.handle), "alice.b-c_d");
	l.version = 7;

	/* outside a transaction: a misuse */
	assert_int_not_equal(a->ops->announce(a, &w), SOTTO_OK);
	/* a bad handle is refused */
	assert_int_equal(a->ops->begin(a), SOTTO_OK);
	snprintf(l.handle, sizeof(l.handle), "Bad Handle");
	assert_int_equal(a->ops->announce(a, &l), SOTTO_ERR_INVALID_ARG);
	snprintf(l.handle, sizeof(l.handle), "alice.b-c_d");
	/* rolled back: nothing */
	assert_int_equal(a->ops->announce(a, &w), SOTTO_OK);
	a->ops->rollback(a);
	/* committed: both, in order */
	assert_int_equal(a->ops->begin(a), SOTTO_OK);
	assert_int_equal(a->ops->announce(a, &w), SOTTO_OK);
	assert_int_equal(a->ops->announce(a, &l), SOTTO_OK);
	assert_int_equal(a->ops->commit(a), SOTTO_OK);
	memset(&gb, 0, sizeof(gb));
	wait_wakes(b, &gb, 2);
	assert_int_equal(gb.n, 2);
	assert_int_equal(gb.w[0].kind, STORE_WAKE_COPY);
	assert_memory_equal(gb.w[0].device_id, d1, SC_DEVICE_ID);
	assert_int_equal(gb.w[0].seq, 42);
	assert_int_equal(gb.w[1].kind, STORE_WAKE_LIST);
	assert_string_equal(gb.w[1].handle, "alice.b-c_d");
	assert_int_equal(gb.w[1].version, 7);
	/* nothing more came (the rolled-back one stayed away) */
	wait_wakes(b, &gb, 3);
	assert_int_equal(gb.n, 2);
	/* the announcer does not wake itself */
	memset(&ga, 0, sizeof(ga));
	wait_wakes(a, &ga, 1);
	assert_int_equal(ga.n, 0);
	/* the other direction */
	assert_int_equal(b->ops->begin(b), SOTTO_OK);
	w.seq = 43;
	assert_int_equal(b->ops->announce(b, &w), SOTTO_OK);
	assert_int_equal(b->ops->commit(b), SOTTO_OK);
	wait_wakes(a, &ga, 1);
	assert_int_equal(ga.n, 1);
	assert_int_equal(ga.w[0].seq, 43);
	b->ops->close(b);
}

/* Total copies for metrics: every stored copy, expired or not. */
static void
test_copy_total(void **state)
{
	fixture *fx = *state;
	store *st = fx->st;
	uint8_t d1[SC_DEVICE_ID], d2[SC_DEVICE_ID];
	uint64_t total = 99;

	memset(d1, 5, sizeof(d1));
	memset(d2, 6, sizeof(d2));
	assert_int_equal(st->ops->copy_total(st, &total), SOTTO_OK);
	assert_int_equal(total, 0);
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	add(st, d1, 1, "a", 10, 20);
	add(st, d1, 2, "b", 10, 5000);
	add(st, d2, 1, "c", 10, 5000);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(st->ops->copy_total(st, &total), SOTTO_OK);
	assert_int_equal(total, 3);
}

/* One copy by seq, as a wake-up names it: only its own device's, unexpired. */
static void
test_copy_get(void **state)
{
	fixture *fx = *state;
	store *st = fx->st;
	uint8_t d1[SC_DEVICE_ID], d2[SC_DEVICE_ID];
	store_copy *c = NULL;
	uint64_t s1, s2;

	memset(d1, 0x11, sizeof(d1));
	memset(d2, 0x22, sizeof(d2));
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	s1 = add(st, d1, 1, "hello", 10, 5000);
	s2 = add(st, d1, 2, "old", 10, 100);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(st->ops->copy_get(st, ACCT, d1, s1, 50, &c), SOTTO_OK);
	assert_int_equal(c->seq, s1);
	assert_memory_equal(c->device_id, d1, SC_DEVICE_ID);
	assert_int_equal(c->envelope_len, 5);
	assert_memory_equal(c->envelope, "hello", 5);
	assert_int_equal(c->wrap_len, 80);
	assert_int_equal(c->msg_id[0], 1);
	assert_int_equal(c->stored_at, 10);
	assert_int_equal(c->expires_at, 5000);
	store_copies_free(c, 1);
	c = NULL;
	assert_int_equal(st->ops->copy_get(st, ACCT, d2, s1, 50, &c), SOTTO_ERR_NOT_FOUND);
	assert_null(c);
	assert_int_equal(st->ops->copy_get(st, ACCT, d1, s2, 100, &c), SOTTO_ERR_NOT_FOUND);
	assert_int_equal(st->ops->copy_get(st, ACCT, d1, s2 + 100, 50, &c), SOTTO_ERR_NOT_FOUND);
}

/* Purge: every copy of one device goes, the others stay. */
static void
test_copy_purge(void **state)
{
	fixture *fx = *state;
	store *st = fx->st;
	uint8_t d1[SC_DEVICE_ID], d2[SC_DEVICE_ID];
	uint64_t count;
	size_t deleted = 9;

	memset(d1, 0x31, sizeof(d1));
	memset(d2, 0x32, sizeof(d2));
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	add(st, d1, 1, "a", 10, 5000);
	add(st, d1, 2, "b", 10, 5000);
	add(st, d2, 1, "c", 10, 5000);
	assert_int_equal(st->ops->copy_purge(st, ACCT, d1, &deleted), SOTTO_OK);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(deleted, 2);
	assert_int_equal(st->ops->copy_count(st, ACCT, d1, 10, &count), SOTTO_OK);
	assert_int_equal(count, 0);
	assert_int_equal(st->ops->copy_count(st, ACCT, d2, 10, &count), SOTTO_OK);
	assert_int_equal(count, 1);
}

/* c's next version (signed by its first device): its devices, plus extra if
 * not NULL, minus the one at index drop if drop < n. *raw: caller frees. */
static void
next_list(const chain *c, dl_list *l, const dl_device *extra, size_t drop, uint8_t **raw, size_t *rawlen)
{
	*l = c->l;
	dl_hash(l->prev_hash, c->raw[c->n - 1], c->rawlen[c->n - 1]);
	l->version++;
	if (drop < l->n_devices) {
		memmove(&l->devices[drop], &l->devices[drop + 1], (l->n_devices - drop - 1) * sizeof(l->devices[0]));
		l->n_devices--;
	}
	if (extra != NULL)
		l->devices[l->n_devices++] = *extra;
	assert_int_equal(dl_sign_device(l, c->l.devices[0].id, c->dev_sec[0], raw, rawlen), SOTTO_OK);
}

/*
 * A device id belongs to one account: a list naming a device another
 * account's current list holds is refused (also to a transaction that began
 * before the other's commit), and a queue is (account, device): another
 * account naming the same device id reaches none of its copies.
 */
static void
test_device_owner(void **state)
{
	fixture *fx = *state;
	store *st = fx->st, *st2 = NULL;
	chain a, b, x;
	dl_list l, lx;
	uint8_t *raw = NULL, *cur = NULL;
	size_t rawlen = 0, len = 0, n = 9, deleted = 9;
	uint64_t s1, v = 0, count = 9;
	store_copy *cp = NULL;
	int more;

	chain_init(&a, "alice", 2);
	chain_init(&b, "bob", 1);
	put_chain(st, "alice", &a);
	put_chain(st, "bob", &b);

	/* bob's next list lists alice's second device: refused, nothing stored */
	next_list(&b, &l, &a.l.devices[1], SIZE_MAX, &raw, &rawlen);
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->list_add(st, &l, raw, rawlen, 900), SOTTO_ERR_DEVICE_TAKEN);
	st->ops->rollback(st);
	free(raw);
	assert_int_equal(st->ops->list_current(st, "bob", &cur, &len, &v), SOTTO_OK);
	assert_int_equal(v, 1);
	free(cur);

	/* alice's queue of that device: bob naming the same id reaches nothing */
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	s1 = add_for(st, "alice", a.l.devices[1].id, 1, "for alice", 10, 5000);
	assert_int_equal(add_for(st, "alice", a.l.devices[1].id, 1, "again", 10, 5000), 0);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(st->ops->copy_count(st, "bob", a.l.devices[1].id, 10, &count), SOTTO_OK);
	assert_int_equal(count, 0);
	assert_int_equal(st->ops->copy_fetch(st, "bob", a.l.devices[1].id, 10, 0, 1 << 20, &cp, &n, &more),
	    SOTTO_OK);
	assert_int_equal(n, 0);
	store_copies_free(cp, n);
	assert_int_equal(st->ops->copy_get(st, "bob", a.l.devices[1].id, s1, 10, &cp), SOTTO_ERR_NOT_FOUND);
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->copy_ack(st, "bob", a.l.devices[1].id, &s1, 1, &deleted), SOTTO_OK);
	assert_int_equal(deleted, 0);
	assert_int_equal(st->ops->copy_purge(st, "bob", a.l.devices[1].id, &deleted), SOTTO_OK);
	assert_int_equal(deleted, 0);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(st->ops->copy_count(st, "alice", a.l.devices[1].id, 10, &count), SOTTO_OK);
	assert_int_equal(count, 1);
	assert_int_equal(st->ops->copy_get(st, "alice", a.l.devices[1].id, s1, 10, &cp), SOTTO_OK);
	store_copies_free(cp, 1);

	/* two stores (workers, nodes): the one whose transaction began first but
	 * writes after the other's commit does not win */
	chain_init(&x, "carol", 1);
	lx = x.l;
	snprintf(lx.handle, sizeof(lx.handle), "dave");
	open_store(fx, &st2);
	if (fx->pg) {
		assert_int_equal(st2->ops->begin(st2), SOTTO_OK);
		assert_int_equal(st2->ops->account_add(st2, "dave", x.account_pub, 5), SOTTO_OK);
	}
	put_chain(st, "carol", &x);
	if (!fx->pg) {
		assert_int_equal(st2->ops->begin(st2), SOTTO_OK);
		assert_int_equal(st2->ops->account_add(st2, "dave", x.account_pub, 5), SOTTO_OK);
	}
	assert_int_equal(st2->ops->list_add(st2, &lx, x.raw[0], x.rawlen[0], 900), SOTTO_ERR_DEVICE_TAKEN);
	st2->ops->rollback(st2);
	st2->ops->close(st2);

	/* once alice's current list drops the device, it is free */
	next_list(&a, &l, NULL, 1, &raw, &rawlen);
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->list_add(st, &l, raw, rawlen, 900), SOTTO_OK);
	assert_int_equal(st->ops->copy_purge(st, "alice", a.l.devices[1].id, &deleted), SOTTO_OK);
	assert_int_equal(deleted, 1);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	free(raw);
	next_list(&b, &l, &a.l.devices[1], SIZE_MAX, &raw, &rawlen);
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->list_add(st, &l, raw, rawlen, 900), SOTTO_OK);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	free(raw);
	chain_free(&a);
	chain_free(&b);
	chain_free(&x);
}

/* Two publishers at once (two workers or nodes): each on its own store. */
typedef struct racer {
	store *st;
	const char *handle;
	const chain *c;
	int listed[2];		/* pipe: the racer's list_add is done, not committed */
	int rc_add, rc_commit;
} racer;

static void *
race_first(void *arg)
{
	racer *r = arg;
	struct timespec hold = { 0, 200 * 1000 * 1000 };
	dl_list l;

	if (r->st->ops->begin(r->st) != SOTTO_OK || dl_parse(&l, r->c->raw[0], r->c->rawlen[0]) != SOTTO_OK ||
	    r->st->ops->account_add(r->st, r->handle, r->c->account_pub, 5) != SOTTO_OK) {
		r->rc_add = SOTTO_ERR_INTERNAL;
		(void)!write(r->listed[1], "x", 1);
		return NULL;
	}
	r->rc_add = r->st->ops->list_add(r->st, &l, r->c->raw[0], r->c->rawlen[0], 900);
	(void)!write(r->listed[1], "x", 1);
	/* holds its uncommitted row while the other tries the same device */
	nanosleep(&hold, NULL);
	r->rc_commit = r->st->ops->commit(r->st);
	return NULL;
}

/*
 * The same device id in two accounts' lists, published at the same moment
 * from two stores: the constraint decides inside the transactions (the second
 * waits for the first's commit, PostgreSQL on the row, SQLite on the write
 * lock), and exactly one wins.
 */
static void
test_device_owner_race(void **state)
{
	fixture *fx = *state;
	store *st2 = NULL;
	chain x;
	dl_list lx;
	racer r;
	pthread_t t;
	char b;
	uint8_t *cur = NULL;
	size_t len = 0;
	uint64_t v;

	chain_init(&x, "carol", 1);
	lx = x.l;
	snprintf(lx.handle, sizeof(lx.handle), "dave");
	open_store(fx, &st2);
	memset(&r, 0, sizeof(r));
	r.st = fx->st;
	r.handle = "carol";
	r.c = &x;
	assert_int_equal(pipe(r.listed), 0);
	assert_int_equal(pthread_create(&t, NULL, race_first, &r), 0);
	assert_int_equal(read(r.listed[0], &b, 1), 1);
	assert_int_equal(r.rc_add, SOTTO_OK);
	assert_int_equal(st2->ops->begin(st2), SOTTO_OK);
	assert_int_equal(st2->ops->account_add(st2, "dave", x.account_pub, 5), SOTTO_OK);
	assert_int_equal(st2->ops->list_add(st2, &lx, x.raw[0], x.rawlen[0], 900), SOTTO_ERR_DEVICE_TAKEN);
	st2->ops->rollback(st2);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(r.rc_commit, SOTTO_OK);
	assert_int_equal(st2->ops->list_current(st2, "carol", &cur, &len, &v), SOTTO_OK);
	free(cur);
	assert_int_equal(st2->ops->list_current(st2, "dave", &cur, &len, &v), SOTTO_ERR_NOT_FOUND);
	st2->ops->close(st2);
	close(r.listed[0]);
	close(r.listed[1]);
	chain_free(&x);
}

/*
 * device_reclaim gives a device's row and its queue back to the account it
 * authenticates as (dir_auth), from the one an earlier server let list it:
 * only that row and that (account, device) queue move, only from the holder
 * named, only inside a transaction and all or nothing. The theft is set up
 * with device_reclaim itself: list_add no longer lets it happen.
 */
static void
test_device_reclaim(void **state)
{
	fixture *fx = *state;
	store *st = fx->st, *st2 = NULL;
	chain a, m;
	dl_list l;
	uint8_t *raw = NULL, unknown[SC_DEVICE_ID];
	const uint8_t *d;
	char owner[SOTTO_MAX_HANDLE + 1];
	size_t rawlen = 0, moved = 9;
	uint64_t count = 9;

	chain_init(&a, "alice", 2);
	chain_init(&m, "mallory", 1);
	put_chain(st, "alice", &a);
	put_chain(st, "mallory", &m);
	d = a.l.devices[1].id;
	assert_int_equal(st->ops->device_owner(st, d, owner), SOTTO_OK);
	assert_string_equal(owner, "alice");
	memset(unknown, 0x5a, sizeof(unknown));
	assert_int_equal(st->ops->device_owner(st, unknown, owner), SOTTO_ERR_NOT_FOUND);
	assert_string_equal(owner, "");

	/* the legacy store: d's row and its queue mallory's; bob's queue of the
	 * same id and mallory's own device's queue are neither */
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	add_for(st, "alice", d, 1, "one", 10, 5000);
	add_for(st, "alice", d, 2, "two", 10, 5000);
	add_for(st, "bob", d, 3, "bob's", 10, 5000);
	add_for(st, "mallory", m.l.devices[0].id, 4, "mallory's", 10, 5000);
	assert_int_equal(st->ops->device_reclaim(st, d, "alice", "mallory", &moved), SOTTO_OK);
	assert_int_equal(moved, 2);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(st->ops->device_owner(st, d, owner), SOTTO_OK);
	assert_string_equal(owner, "mallory");

	/* outside a transaction, from an account that does not hold it, or
	 * rolled back: nothing moves */
	assert_int_equal(st->ops->device_reclaim(st, d, "mallory", "alice", &moved), SOTTO_ERR_INTERNAL);
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->device_reclaim(st, d, "alice", "bob", &moved), SOTTO_ERR_NOT_FOUND);
	assert_int_equal(moved, 0);
	assert_int_equal(st->ops->device_reclaim(st, unknown, "mallory", "alice", &moved), SOTTO_ERR_NOT_FOUND);
	assert_int_equal(st->ops->device_reclaim(st, d, "mallory", "alice", &moved), SOTTO_OK);
	assert_int_equal(moved, 2);
	st->ops->rollback(st);
	assert_int_equal(st->ops->device_owner(st, d, owner), SOTTO_OK);
	assert_string_equal(owner, "mallory");
	assert_int_equal(st->ops->copy_count(st, "mallory", d, 10, &count), SOTTO_OK);
	assert_int_equal(count, 2);

	/* the reclaim: row and queue alice's again, the rest where it was */
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->device_reclaim(st, d, "mallory", "alice", &moved), SOTTO_OK);
	assert_int_equal(moved, 2);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(st->ops->device_owner(st, d, owner), SOTTO_OK);
	assert_string_equal(owner, "alice");
	assert_int_equal(st->ops->copy_count(st, "alice", d, 10, &count), SOTTO_OK);
	assert_int_equal(count, 2);
	assert_int_equal(st->ops->copy_count(st, "mallory", d, 10, &count), SOTTO_OK);
	assert_int_equal(count, 0);
	assert_int_equal(st->ops->copy_count(st, "bob", d, 10, &count), SOTTO_OK);
	assert_int_equal(count, 1);
	assert_int_equal(st->ops->copy_count(st, "mallory", m.l.devices[0].id, 10, &count), SOTTO_OK);
	assert_int_equal(count, 1);

	/* a second worker or node reclaiming the same theft at once moves nothing */
	open_store(fx, &st2);
	assert_int_equal(st2->ops->begin(st2), SOTTO_OK);
	assert_int_equal(st2->ops->device_reclaim(st2, d, "mallory", "alice", &moved), SOTTO_ERR_NOT_FOUND);
	assert_int_equal(moved, 0);
	st2->ops->rollback(st2);
	st2->ops->close(st2);

	/* from then on mallory's list naming d is refused, and hers without it
	 * leaves d alice's */
	next_list(&m, &l, &a.l.devices[1], SIZE_MAX, &raw, &rawlen);
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->list_add(st, &l, raw, rawlen, 900), SOTTO_ERR_DEVICE_TAKEN);
	st->ops->rollback(st);
	free(raw);
	next_list(&m, &l, NULL, SIZE_MAX, &raw, &rawlen);
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->list_add(st, &l, raw, rawlen, 900), SOTTO_OK);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	free(raw);
	assert_int_equal(st->ops->device_owner(st, d, owner), SOTTO_OK);
	assert_string_equal(owner, "alice");
	chain_free(&a);
	chain_free(&m);
}

/* A devices row whose handle is longer than any handle is corruption, not a
 * string to copy. SQLite only (written behind the store's back). */
static void
test_device_owner_corrupt(void **state)
{
	fixture *fx = *state;
	store *st = fx->st;
	chain a;
	sqlite3 *db;
	char owner[SOTTO_MAX_HANDLE + 1];

	if (fx->pg)
		skip();
	chain_init(&a, "alice", 1);
	put_chain(st, "alice", &a);
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "UPDATE devices SET handle = printf('%.65c', 'm');", NULL, NULL, NULL),
	    SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(st->ops->device_owner(st, a.l.devices[0].id, owner), SOTTO_ERR_DB);
	chain_free(&a);
}

/* A store made before queues had an account: opened again, its copies are
 * their device's owner's queue. SQLite only (the PostgreSQL schema runs the
 * same migration in its schema script). */
static void
test_copies_account_migration(void **state)
{
	fixture *fx = *state;
	store *st = fx->st;
	chain a;
	sqlite3 *db;
	store_copy *cp = NULL;
	size_t n = 0;
	int more;

	if (fx->pg)
		skip();
	chain_init(&a, "alice", 1);
	put_chain(st, "alice", &a);
	st->ops->close(st);
	fx->st = NULL;
	assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP INDEX copies_queue; ALTER TABLE copies DROP COLUMN account;"
	    "INSERT INTO copies(device_id, msg_id, envelope, wrap, stored_at, expires_at) "
	    "SELECT device_id, randomblob(16), x'02', x'03', 1, 5000 FROM devices;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	open_store(fx, &fx->st);
	st = fx->st;
	assert_int_equal(st->ops->copy_fetch(st, "alice", a.l.devices[0].id, 10, 0, 1 << 20, &cp, &n, &more),
	    SOTTO_OK);
	assert_int_equal(n, 1);
	store_copies_free(cp, n);
	chain_free(&a);
}


static uint64_t
add_from(store *st, const uint8_t dev[SC_DEVICE_ID], uint8_t msg, const char *body, uint64_t now,
    uint64_t expires, const char *sender)
{
	store_copy c;
	uint64_t seq = 99;

	make_copy(&c, dev, msg, body, now, expires);
	snprintf(c.sender, sizeof(c.sender), "%s", sender);
	assert_int_equal(st->ops->copy_add(st, ACCT, &c, &seq), SOTTO_OK);
	return seq;
}

static void
usage_is(store *st, const char *sender, uint64_t bytes, uint64_t copies)
{
	uint64_t b = 99, c = 99;

	assert_int_equal(st->ops->usage_get(st, sender, &b, &c), SOTTO_OK);
	assert_int_equal(b, bytes);
	assert_int_equal(c, copies);
}

static uint64_t
share_of(store *st, const uint8_t dev[SC_DEVICE_ID], const char *sender, uint64_t now)
{
	uint64_t n = 99;

	assert_int_equal(st->ops->copy_count_sender(st, dev, sender, now, &n), SOTTO_OK);
	return n;
}

/*
 * Sender shares and stored bytes (store.h "Sender shares and quotas"): a
 * copy's size is its envelope and wrap; every way a copy is added or goes
 * (add, a repeated add, ack, sweep, purge, a savepoint undone, a rollback)
 * moves its sender's bytes, inside the transaction at once and for every
 * other connection once committed.
 */
static void
test_sender_usage(void **state)
{
	fixture *fx = *state;
	store *st = fx->st, *other = NULL;
	uint8_t d1[SC_DEVICE_ID], d2[SC_DEVICE_ID];
	uint64_t now = 100000, exp = now + DAY_MS, s_first, total;
	size_t deleted;

	memset(d1, 0x41, sizeof(d1));
	memset(d2, 0x42, sizeof(d2));
	open_store(fx, &other);
	usage_is(st, "alice", 0, 0);
	assert_int_equal(st->ops->usage_total(st, &total), SOTTO_OK);
	assert_int_equal(total, 0);
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	s_first = add_from(st, d1, 1, "aaaa", now, exp, "alice");	/* 4 + 80 */
	add_from(st, d1, 2, "aaaa", now, exp, "alice");
	add_from(st, d1, 3, "aaaa", now, exp, "alice");
	add_from(st, d1, 4, "bb", now, exp, "bob");			/* 82 */
	add_from(st, d2, 1, "a", now, exp, "alice");			/* 81 */
	add_from(st, d1, 5, "x", now - 10, now, "alice");		/* 81, expired at now */
	/* a repeated (device, msg id) is no new copy and no new bytes */
	assert_int_equal(add_from(st, d1, 1, "aaaa again", now, exp, "alice"), 0);
	/* this transaction's own writes count at once; other connections wait
	 * for the commit */
	usage_is(st, "alice", 3 * 84 + 81 + 81, 5);
	usage_is(st, "bob", 82, 1);
	usage_is(other, "alice", 0, 0);
	assert_int_equal(share_of(st, d1, "alice", now), 3);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	usage_is(other, "alice", 414, 5);
	usage_is(other, "bob", 82, 1);
	usage_is(other, "nobody", 0, 0);
	assert_int_equal(other->ops->usage_total(other, &total), SOTTO_OK);
	assert_int_equal(total, 496);
	/* shares: per (device, sender), unexpired only */
	assert_int_equal(share_of(st, d1, "alice", now), 3);
	assert_int_equal(share_of(st, d1, "alice", now - 1), 4);
	assert_int_equal(share_of(st, d1, "bob", now), 1);
	assert_int_equal(share_of(st, d2, "alice", now), 1);
	assert_int_equal(share_of(st, d2, "bob", now), 0);
	assert_int_equal(share_of(st, d1, "carol", now), 0);

	/* undone and rolled back: nothing moves */
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->mark(st), SOTTO_OK);
	add_from(st, d2, 9, "zzz", now, exp, "alice");
	usage_is(st, "alice", 414 + 83, 6);
	st->ops->undo(st);
	usage_is(st, "alice", 414, 5);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	add_from(st, d2, 9, "zzz", now, exp, "alice");
	st->ops->rollback(st);
	usage_is(st, "alice", 414, 5);
	usage_is(other, "alice", 414, 5);

	/* ack, sweep, purge: each gives back what its copies held */
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->copy_ack(st, ACCT, d1, &s_first, 1, &deleted), SOTTO_OK);
	assert_int_equal(deleted, 1);
	usage_is(st, "alice", 330, 4);
	assert_int_equal(st->ops->copy_sweep(st, now, 100, &deleted), SOTTO_OK);
	assert_int_equal(deleted, 1);
	usage_is(st, "alice", 249, 3);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->copy_purge(st, ACCT, d2, &deleted), SOTTO_OK);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(deleted, 1);
	usage_is(other, "alice", 168, 2);
	usage_is(other, "bob", 82, 1);
	other->ops->close(other);
	reopen(fx);
	st = fx->st;
	usage_is(st, "alice", 168, 2);
	assert_int_equal(st->ops->usage_total(st, &total), SOTTO_OK);
	assert_int_equal(total, 250);
	assert_int_equal(share_of(st, d1, "alice", now), 2);
}

/*
 * PostgreSQL: several writers (every worker's committer, every node). Two
 * transactions adding copies of two senders in opposite orders neither wait
 * for each other nor deadlock (a trigger updating each sender's usage row at
 * once would lock it until commit: the second add here would block this
 * single-threaded test for good); both commits count. SQLite has one writer
 * at a time: nothing to test.
 */
static void
test_usage_two_writers(void **state)
{
	fixture *fx = *state;
	store *a = fx->st, *b = NULL;
	uint8_t d1[SC_DEVICE_ID], d2[SC_DEVICE_ID];

	if (!fx->pg)
		return;
	memset(d1, 0x51, sizeof(d1));
	memset(d2, 0x52, sizeof(d2));
	open_store(fx, &b);
	assert_int_equal(a->ops->begin(a), SOTTO_OK);
	assert_int_equal(b->ops->begin(b), SOTTO_OK);
	add_from(a, d1, 1, "x", 10, 5000, "xavier");
	add_from(b, d2, 1, "y", 10, 5000, "yvonne");
	add_from(a, d1, 2, "y", 10, 5000, "yvonne");
	add_from(b, d2, 2, "x", 10, 5000, "xavier");
	assert_int_equal(a->ops->commit(a), SOTTO_OK);
	assert_int_equal(b->ops->commit(b), SOTTO_OK);
	usage_is(a, "xavier", 162, 2);
	usage_is(b, "yvonne", 162, 2);
	b->ops->close(b);
}

static void
sq_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *err = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		fail_msg("%s: %s", sql, err);
	sqlite3_close(db);
}

static void
pg_exec(const char *conninfo, const char *sql)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r;

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

/* A store written before the sender shares (no sender, no size, no usage):
 * opened, its copies get sender '' and their sizes, and the usage table
 * holds them; new copies count as before. */
static void
test_usage_migrate(void **state)
{
	fixture *fx = *state;
	uint8_t d1[SC_DEVICE_ID];
	uint64_t now = 1000;
	store *st;

	memset(d1, 0xab, sizeof(d1));
	fx->st->ops->close(fx->st);
	fx->st = NULL;
	if (fx->pg)
		pg_exec(fx->conninfo, "DROP TRIGGER copies_usage_add ON copies;"
		    "DROP TRIGGER copies_usage_del ON copies; DROP TABLE account_usage;"
		    "DROP INDEX copies_device_sender; ALTER TABLE copies DROP COLUMN sender, DROP COLUMN size;"
		    "INSERT INTO copies(device_id, msg_id, envelope, wrap, stored_at, expires_at) VALUES"
		    " (decode(repeat('ab', 16), 'hex'), decode(repeat('01', 16), 'hex'), 'hello', 'wrapwrap', 1, 5000),"
		    " (decode(repeat('ab', 16), 'hex'), decode(repeat('02', 16), 'hex'), 'hi', 'wrap', 1, 5000)");
	else
		sq_exec(fx->path, "DROP TRIGGER copies_usage_add; DROP TRIGGER copies_usage_del;"
		    "DROP TABLE account_usage; DROP INDEX copies_device_sender;"
		    "ALTER TABLE copies DROP COLUMN sender; ALTER TABLE copies DROP COLUMN size;"
		    "INSERT INTO copies(device_id, msg_id, envelope, wrap, stored_at, expires_at) VALUES"
		    " (x'abababababababababababababababab', x'01010101010101010101010101010101',"
		    "  x'68656c6c6f', x'7772617077726170', 1, 5000),"
		    " (x'abababababababababababababababab', x'02020202020202020202020202020202',"
		    "  x'6869', x'77726170', 1, 5000)");
	open_store(fx, &fx->st);
	st = fx->st;
	usage_is(st, "", 13 + 6, 2);
	assert_int_equal(share_of(st, d1, "", now), 2);
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	add_from(st, d1, 3, "new", now, 5000, "alice");
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	usage_is(st, "alice", 83, 1);
	/* opened again: nothing counted twice */
	reopen(fx);
	usage_is(fx->st, "", 19, 2);
	usage_is(fx->st, "alice", 83, 1);
}

/* Linking rendezvous: single use, per (id, slot), expiring, capped. */
static const uint8_t rdv_owner[STORE_RDV_OWNER_LEN];

static void
test_rendezvous(void **state)
{
	fixture *fx = *state;
	store *st = fx->st;
	uint8_t id[STORE_RDV_ID_LEN], id2[STORE_RDV_ID_LEN], blob[SOTTO_MAX_LINK_BLOB + 1], *got = NULL;
	size_t len = 0;

	memset(id, 0x41, sizeof(id));
	memset(id2, 0x42, sizeof(id2));
	memset(blob, 0x5a, sizeof(blob));
	assert_int_equal(st->ops->rdv_put(st, id, 0, blob, 0, 100, 200, 10, rdv_owner, 1000), SOTTO_ERR_TOO_LARGE);
	assert_int_equal(st->ops->rdv_put(st, id, 0, blob, sizeof(blob), 100, 200, 10, rdv_owner, 1000), SOTTO_ERR_TOO_LARGE);
	assert_int_equal(st->ops->rdv_put(st, id, 0, blob, 40, 100, 200, 10, rdv_owner, 1000), SOTTO_OK);
	assert_int_equal(st->ops->rdv_put(st, id, 0, blob, 40, 100, 200, 10, rdv_owner, 1000), SOTTO_ERR_EXISTS);
	assert_int_equal(st->ops->rdv_put(st, id, 1, blob, 41, 100, 200, 10, rdv_owner, 1000), SOTTO_OK);
	/* the cap counts live entries */
	assert_int_equal(st->ops->rdv_put(st, id2, 0, blob, 5, 100, 200, 2, rdv_owner, 1000), SOTTO_ERR_RATE_LIMITED);
	/* peek, then take once */
	assert_int_equal(st->ops->rdv_take(st, id, 0, 150, 0, &got, &len), SOTTO_OK);
	assert_int_equal(len, 40);
	assert_memory_equal(got, blob, 40);
	free(got);
	assert_int_not_equal(st->ops->rdv_take(st, id, 0, 150, 1, &got, &len), SOTTO_OK);	/* no tx */
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->rdv_take(st, id, 0, 150, 1, &got, &len), SOTTO_OK);
	free(got);
	assert_int_equal(st->ops->rdv_take(st, id, 0, 150, 1, &got, &len), SOTTO_ERR_NOT_FOUND);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(st->ops->rdv_take(st, id, 0, 150, 0, &got, &len), SOTTO_ERR_NOT_FOUND);
	assert_null(got);
	/* used, it still blocks its slot until it expires */
	assert_int_equal(st->ops->rdv_put(st, id, 0, blob, 40, 150, 200, 10, rdv_owner, 1000), SOTTO_ERR_EXISTS);
	/* expired: not taken, and swept by the next put */
	assert_int_equal(st->ops->rdv_take(st, id, 1, 200, 0, &got, &len), SOTTO_ERR_NOT_FOUND);
	assert_int_equal(st->ops->rdv_put(st, id, 0, blob, 7, 200, 300, 1, rdv_owner, 1000), SOTTO_OK);
	assert_int_equal(st->ops->rdv_take(st, id, 0, 250, 0, &got, &len), SOTTO_OK);
	assert_int_equal(len, 7);
	free(got);
	/* extend: a live entry lives longer; an expired, used or absent one is
	 * not brought back */
	assert_int_equal(st->ops->rdv_extend(st, id, 0, 250, 400), SOTTO_OK);
	assert_int_equal(st->ops->rdv_take(st, id, 0, 350, 0, &got, &len), SOTTO_OK);
	free(got);
	assert_int_equal(st->ops->rdv_extend(st, id, 0, 400, 500), SOTTO_ERR_NOT_FOUND);
	assert_int_equal(st->ops->rdv_take(st, id, 0, 400, 0, &got, &len), SOTTO_ERR_NOT_FOUND);
	assert_int_equal(st->ops->rdv_extend(st, id2, 0, 100, 500), SOTTO_ERR_NOT_FOUND);
	assert_int_equal(st->ops->rdv_put(st, id2, 0, blob, 9, 500, 600, 10, rdv_owner, 1000), SOTTO_OK);
	assert_int_equal(st->ops->begin(st), SOTTO_OK);
	assert_int_equal(st->ops->rdv_take(st, id2, 0, 550, 1, &got, &len), SOTTO_OK);
	free(got);
	assert_int_equal(st->ops->commit(st), SOTTO_OK);
	assert_int_equal(st->ops->rdv_extend(st, id2, 0, 550, 900), SOTTO_ERR_NOT_FOUND);
	/* One owner's share of the live entries: the others still get theirs. */
	{
		uint8_t other[STORE_RDV_OWNER_LEN], rid[STORE_RDV_ID_LEN];

		memset(other, 0x77, sizeof(other));
		memset(rid, 0x60, sizeof(rid));
		for (int i = 0; i < 3; i++) {
			rid[0] = (uint8_t)(0x60 + i);
			assert_int_equal(st->ops->rdv_put(st, rid, 0, blob, 5, 1000, 2000, 100, other, 3), SOTTO_OK);
		}
		rid[0] = 0x70;
		assert_int_equal(st->ops->rdv_put(st, rid, 0, blob, 5, 1000, 2000, 100, other, 3),
		    SOTTO_ERR_RATE_LIMITED);
		assert_int_equal(st->ops->rdv_put(st, rid, 0, blob, 5, 1000, 2000, 100, rdv_owner, 3), SOTTO_OK);
		/* expired entries no longer count */
		rid[0] = 0x71;
		assert_int_equal(st->ops->rdv_put(st, rid, 0, blob, 5, 2000, 3000, 100, other, 3), SOTTO_OK);
	}
}

/* test_server_store [sqlite|postgres]: one backend per run, so that CTest
 * shows the PostgreSQL half as Skipped (exit 77, SKIP_RETURN_CODE) without
 * SOTTO_TEST_PG, and the SQLite half passes or fails on its own. */
int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_accounts_and_history, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invites, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mailbox, setup, teardown),
		cmocka_unit_test_setup_teardown(test_savepoints, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap_counting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wakeups, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_total, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copy_purge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rendezvous, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_owner_race, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_reclaim, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_owner_corrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_copies_account_migration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sender_usage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_migrate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_two_writers, setup, teardown),
	};
	const char *which = argc > 1 ? argv[1] : "sqlite";

	if (strcmp(which, "sqlite") == 0) {
		backend_pg = 0;
		return cmocka_run_group_tests_name("store_sqlite", tests, NULL, NULL) == 0 ? 0 : 1;
	}
	if (strcmp(which, "postgres") != 0) {
		fprintf(stderr, "usage: test_server_store [sqlite|postgres]\n");
		return 2;
	}
	if (getenv("SOTTO_TEST_PG") == NULL || getenv("SOTTO_TEST_PG")[0] == '\0') {
		printf("SKIPPED: the PostgreSQL store cases need SOTTO_TEST_PG (scripts/with-test-pg.sh)\n");
		return 77;
	}
	backend_pg = 1;
	return cmocka_run_group_tests_name("store_postgres", tests, NULL, NULL) == 0 ? 0 : 1;
}
